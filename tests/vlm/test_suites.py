"""Suites as data: validation (one-line errors), missing weights named up front, runs, resume, tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rses.errors import UsageError, WeightsNotFoundError
from rses.suites import builtin_suites, load_suite, run_suite


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path / "cache"))


def write(tmp_path: Path, text: str, name: str = "s.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BASE = 'split = "test"\nmetrics = ["pixel"]\n[[methods]]\nmethod = "identity"\n'


def test_shipped_suites_load_and_carry_the_papers_numbers():
    assert set(builtin_suites()) == {"builtin", "paper-table1-coco"}
    builtin = load_suite("builtin")
    assert [m.method for m in builtin.methods] == ["identity", "global-style", "paste-style", "clone-style"]
    assert builtin.split == "test" and "rses_ref" in builtin.metrics and not builtin.paper
    paper = load_suite("paper-table1-coco")
    assert [m.label for m in paper.methods] == [
        "regionroute",
        "kontext",
        "qwen-image-edit",
        "instructpix2pix",
        "sd2-inpainting",
    ]
    assert paper.metrics == [
        "rsm",
        "lpips_bg",
        "mse_bg",
        "vlm_obj_target",
        "vlm_bg_target",
        "vlm_obj_opposite",
        "vlm_bg_opposite",
    ]
    # spot checks against the paper's (arXiv 2602.19254) section 5.1 and 5.2
    assert paper.paper["regionroute"] == {
        "rsm": 0.6128,
        "lpips_bg": 0.2103,
        "mse_bg": 0.0729,
        "vlm_obj_target": 0.73,
        "vlm_bg_target": 0.07,
        "vlm_obj_opposite": 0.12,
        "vlm_bg_opposite": 0.0,
    }
    assert paper.paper["sd2-inpainting"] == {"rsm": 0.6028, "lpips_bg": 0.0859, "mse_bg": 0.0039}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bogus = 1\n" + BASE, r"unknown key\(s\) \['bogus'\]"),
        ('metrics = ["pixel"]\n[[methods]]\nmethod = "identity"\n', r"the key 'split' is missing"),
        (BASE.replace('"pixel"', '"pixle"'), r"metrics: Unknown metric or group 'pixle'. Did you mean pixel"),
        (
            BASE.replace('"identity"', '"identy"'),
            r"methods\[0\]: Unknown editor 'identy'. Did you mean 'identity'",
        ),
        (BASE + '[[methods]]\nmethod = "identity"\n', r"label\(s\) \['identity'\] used by several methods"),
        (BASE + '[[methods]]\nmethod = "paste-style"\nconfig = 3\n', r"methods\[1\]: config must be a dict"),
        (
            BASE + '[[methods]]\nmethod = "paste-style"\nseed = 3\n',
            r"methods\[1\]: unknown key\(s\) \['seed'\]",
        ),
        (
            BASE + '[table]\nmetrics = ["rsm"]\n',
            r"\[table\] metrics \['rsm'\] are not among the suite's metrics",
        ),
        (BASE + "[paper]\nnumbers.kontext = { mse_bg = 0.1 }\n", r"no method has the label 'kontext'"),
        (BASE + "[paper]\nnumbers.identity = { rsm = 0.1 }\n", r"metric\(s\) \['rsm'\] are not among"),
        (BASE + '[paper]\nnumbers.identity = { mse_bg = "x" }\n', r"must map metric names to numbers"),
        ("batch_size = 0\n" + BASE, r"batch_size must be >= 1"),
        ('seed = "1"\n' + BASE, r"seed must be a int"),
        ("split = \n", r"cannot read it as TOML"),
    ],
)
def test_every_key_is_validated_with_a_one_line_error(tmp_path, text, expected):
    with pytest.raises(UsageError, match=expected) as err:
        load_suite(write(tmp_path, text))
    assert "\n" not in str(err.value) and str(tmp_path) in str(err.value)


def test_unknown_suite_names_the_shipped_ones():
    with pytest.raises(UsageError, match=r"No suite file 'nope'.*shipped: builtin, paper-table1-coco"):
        load_suite("nope")


def test_every_missing_weight_is_named_up_front(tmp_path, monkeypatch):
    for name in ("RSES_CLIP_WEIGHTS", "RSES_LPIPS_WEIGHTS", "RSES_VLM_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    suite = load_suite("paper-table1-coco")
    with pytest.raises(WeightsNotFoundError) as err:
        run_suite(suite, tmp_path / "out", split="test", progress=False)
    message = str(err.value)
    assert message.startswith("Suite paper-table1-coco: 8 weight set(s) missing:") and "\n" not in message
    for label in (
        "[regionroute]",
        "[kontext]",
        "[qwen-image-edit]",
        "[instructpix2pix]",
        "[sd2-inpainting]",
        "[metrics: clip] Weights for CLIP",
        "[metrics: lpips] Weights for LPIPS",
        "[metrics: vlm] Weights for VLM judge Qwen2.5-VL-7B-Instruct",
    ):
        assert label in message
    assert not (tmp_path / "out").exists()  # nothing ran


SMOKE = """
split = "test"
metrics = ["mse_bg", "vlm"]
[[methods]]
method = "identity"
[[methods]]
label = "paste"
method = "paste-style"
[table]
metrics = ["vlm_obj_target", "mse_bg"]
[paper]
source = "made-up numbers"
numbers.paste = { vlm_obj_target = 0.73 }
"""


def test_a_suite_runs_resumes_and_tables_yes_shares_beside_the_paper(tmp_path):
    suite = load_suite(write(tmp_path, SMOKE, "smoke.toml"))
    result = run_suite(suite, tmp_path / "out", smoke=True, limit=2, progress=False, report=False)
    assert set(result.runs) == {"identity", "paste"} and result.n_failed == 0
    table = result.files["table.md"].read_text()
    assert "| method | n | vlm_obj_target ↑ | paper | mse_bg ↓ | paper |" in table
    assert "made-up numbers" in table and "Smoke run" in table
    import pandas as pd

    paste = pd.read_parquet(tmp_path / "out" / "paste" / "samples.parquet")
    share = float((paste["vlm_obj_target"] > 0.5).mean())
    mse = json.loads((tmp_path / "out" / "paste" / "summary.json").read_text())["mse_bg"]["mean"]
    assert f"| paste | 2 | {share:.4g} | 0.73 | {mse:.4g} | – |" in table
    info = json.loads((tmp_path / "out" / "paste" / "run.json").read_text())
    assert info["metric_config"]["vlm"]["revision"] == "cc594898137f460bfe9f0759e9844b3ce807cfb5"
    assert "leaderboard.md" in {p.name for p in result.files.values()}
    again = run_suite(suite, tmp_path / "out", smoke=True, limit=2, progress=False, report=False)
    assert again.runs == result.runs
    assert json.loads((tmp_path / "out" / "paste" / "run.json").read_text())["n_sessions"] == 2
    assert not math.isnan(share)


def test_cli_suite_run_and_ls(tmp_path, capsys):
    from rses.cli import main

    out = tmp_path / "builtin"
    with pytest.raises(SystemExit) as exit_info:
        main(["suite", "run", "builtin", "--out", str(out), "--limit", "2", "--no-progress", "--no-report"])
    text = capsys.readouterr().out
    assert exit_info.value.code in (0, None)
    assert "| clone-style | 2 | 1 |" in text and (out / "leaderboard.md").is_file()
    with pytest.raises(SystemExit):
        main(["suite", "ls"])
    assert "paper-table1-coco" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["suite", "run", str(tmp_path / "none.toml")])
    assert exit_info.value.code == 2 and "No suite file" in capsys.readouterr().err


def odd_style_split(tmp_path: Path) -> Path:
    import numpy as np

    from rses.data.manifest import sample_record, write_manifest
    from rses.io import save_image, save_mask

    mask = np.zeros((32, 32), bool)
    mask[8:20, 8:20] = True
    save_image(tmp_path / "split" / "a.png", np.full((32, 32, 3), 90, np.uint8))
    save_mask(tmp_path / "split" / "m.png", mask)
    record = sample_record(
        tmp_path / "split",
        "a",
        tmp_path / "split" / "a.png",
        tmp_path / "split" / "m.png",
        object_name="box",
        style="watercolor",
    )
    return write_manifest(tmp_path / "split" / "split.jsonl", [record])


def test_a_style_without_an_opposite_stops_eval_and_suite_before_any_work(tmp_path):
    from rses.runner import RunConfig, run_eval

    split = odd_style_split(tmp_path)
    with pytest.raises(UsageError, match=r"Style 'watercolor' has no opposite style"):
        run_eval(
            RunConfig(method="identity", split=str(split), out=tmp_path / "run", metrics="vlm", smoke=True),
            progress=False,
        )
    assert not (tmp_path / "run").exists()
    suite = load_suite(write(tmp_path, SMOKE, "smoke.toml"))
    with pytest.raises(UsageError, match=r"Style 'watercolor' has no opposite style"):
        run_suite(suite, tmp_path / "out", split=str(split), smoke=True, progress=False)
    targets_only = RunConfig(
        method="identity",
        split=str(split),
        out=tmp_path / "run",
        smoke=True,
        metrics="vlm_obj_target,vlm_bg_target",
    )
    assert run_eval(targets_only, progress=False).n_ok == 1  # the target questions need no opposite


def test_compare_prints_share_and_mcnemar_for_vlm_runs(tmp_path, capsys):
    from rses.cli import main

    suite = load_suite(write(tmp_path, SMOKE, "smoke.toml"))
    result = run_suite(suite, tmp_path / "out", smoke=True, limit=2, progress=False, report=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", str(result.runs["identity"]), str(result.runs["paste"]), "--resamples", "50"])
    out = capsys.readouterr().out
    assert exit_info.value.code in (0, None)
    assert "share yes" in out and "McNemar p" in out


def test_opposites_are_selectable_recorded_and_part_of_the_resume_check(tmp_path):
    from rses.errors import RsesError
    from rses.runner import RunConfig, run_eval

    split = odd_style_split(tmp_path)
    text = (
        'metric_options = { vlm_opposites = { watercolor = "cyberpunk" } }\nsplit = "test"\nmetrics = ["vlm"]\n'
        '[[methods]]\nmethod = "identity"\n'
    )
    suite = load_suite(write(tmp_path, text, "odd.toml"))
    result = run_suite(suite, tmp_path / "out", split=str(split), smoke=True, progress=False, report=False)
    assert result.n_failed == 0
    info = json.loads((result.runs["identity"] / "run.json").read_text())
    assert info["metric_config"]["vlm"]["opposites"] == {"watercolor": "cyberpunk"}
    assert info["metric_options"] == {"vlm_opposites": {"watercolor": "cyberpunk"}}
    other = RunConfig(
        method="identity",
        split=str(split),
        out=result.runs["identity"],
        smoke=True,
        metrics=suite.metrics,
        metric_options={"vlm_opposites": {"watercolor": "line-art"}},
    )
    with pytest.raises(RsesError, match=r"its metric_options is"):
        run_eval(other, progress=False)
    with pytest.raises(UsageError, match=r"metric_options \['vlm_oposites'\] are not RSES options"):
        load_suite(write(tmp_path, "metric_options = { vlm_oposites = {} }\n" + SMOKE, "bad.toml"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE + 'label = "../escaped"\n', r"methods\[0\]: label '\.\./escaped' must be a plain name"),
        (BASE + 'label = "a/b"\n', r"methods\[0\]: label 'a/b' must be a plain name"),
        (BASE + 'label = ".."\n', r"methods\[0\]: label '\.\.' must be a plain name"),
        ('name = "../up"\n' + BASE, r"name '\.\./up' must be a plain name"),
        (
            'metric_options = { boundary = "wide" }\n' + BASE,
            r"metric_options: boundary must be a int, got str",
        ),
        (
            "metric_options = { mask_threshold = 7 }\n" + BASE,
            r"metric_options: mask_threshold must lie in \[0, 1\]",
        ),
        (
            'metric_options = { vlm_opposites = "x" }\n' + BASE,
            r"metric_options: vlm_opposites must be a dict",
        ),
    ],
)
def test_labels_names_and_metric_options_are_checked_before_any_work(tmp_path, text, expected):
    """A label or name is a directory under --out: a path in it would write runs outside --out. A metric option
    of the wrong type used to fail every sample at run time (TypeError in the error column) or pass silently."""
    with pytest.raises(UsageError, match=expected) as err:
        load_suite(write(tmp_path, text))
    assert "\n" not in str(err.value) and str(tmp_path) in str(err.value)


def test_a_suite_file_that_is_not_utf8_is_one_line_on_the_cli(tmp_path, capsys):
    from rses.cli import main

    path = tmp_path / "latin1.toml"
    path.write_bytes(BASE.replace('"test"', '"t\xe9st"').encode("latin-1"))
    with pytest.raises(SystemExit) as exit_info:
        main(["suite", "run", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err and "cannot read it as TOML" in err


def test_metric_config_that_is_not_utf8_or_has_a_wrong_type_is_one_line(tmp_path, capsys):
    from rses.cli import main

    (tmp_path / "latin1.json").write_bytes('{"vlm_opposites": {"pixel-art": "caf\xe9"}}'.encode("latin-1"))
    (tmp_path / "typed.json").write_text('{"boundary": "wide"}')
    for name, expected in (
        ("latin1.json", "cannot read a JSON object"),
        ("typed.json", "boundary must be a int"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(
                [
                    "eval",
                    "--method",
                    "identity",
                    "--split",
                    "test",
                    "--limit",
                    "1",
                    "--metrics",
                    "mse_bg",
                    "--metric-config",
                    str(tmp_path / name),
                    "--out",
                    str(tmp_path / "run"),
                ]
            )
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and "Traceback" not in err and expected in err
        assert not (tmp_path / "run").exists()
