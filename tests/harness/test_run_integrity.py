"""What a run's numbers are traceable to: the weights it resolved, edits checked before scoring, run.json."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from harness_kit import make_split

from rses.data.manifest import STYLES, sample_record, write_manifest
from rses.editing import EDITORS, Editor
from rses.errors import RsesError
from rses.io import load_image, save_image, save_mask
from rses.run_record import read_run_record
from rses.runner import EditCache, RunConfig, run_eval
from rses.weights import WeightSpec

ALEX = Path(os.environ.get("RSES_TEST_LPIPS_WEIGHTS", "/nonexistent/alexnet-owt-7be5be79.safetensors"))
needs_trunk = pytest.mark.skipif(not ALEX.is_file(), reason="real AlexNet trunk not on this machine")


def _safetensors(path: Path, **metadata: str) -> Path:
    """A valid safetensors file holding one tensor and ``metadata`` (checkpoints are checked by content)."""
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(1, np.float32)}, str(path), metadata=metadata)
    return path


def _metadata(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), "np") as fh:
        return fh.metadata()


class WeightShiftEditor(Editor):
    """Adds its weights file's ``shift`` (safetensors metadata) to every pixel: the edit shows which weights
    made it."""

    name = "fake-wshift"

    def weights(self):
        return [
            WeightSpec(
                name="Fake shift", default="file:/nonexistent/w.safetensors", env_var="RSES_FAKE_SHIFT_W"
            )
        ]

    def edit(self, requests):
        from rses.weights import resolve_weights

        shift = int(_metadata(resolve_weights(self.weights()[0]))["shift"])
        return [np.clip(r.image.astype(int) + shift, 0, 255).astype(np.uint8) for r in requests]


class OneBufferEditor(Editor):
    """Writes every edit of a batch into one buffer and returns that buffer for each (a real editor bug)."""

    name = "fake-onebuffer"

    def edit(self, requests):
        buffer = np.empty_like(requests[0].image)
        out = []
        for r in requests:
            buffer[...] = 255 - r.image
            out.append(buffer[...])  # a view of the one buffer
        return out


class SizeEditor(Editor):
    """By sample id: ``*big*`` 2x larger (allowed), ``*huge*`` 10x (refused), ``*wide*`` another aspect."""

    name = "fake-size"

    def edit(self, requests):
        out = []
        for r in requests:
            image = r.image
            if "big" in r.sample_id:
                image = image.repeat(2, axis=0).repeat(2, axis=1)
            elif "huge" in r.sample_id:
                image = image.repeat(10, axis=0).repeat(10, axis=1)
            elif "wide" in r.sample_id:
                image = image.repeat(2, axis=1)
            out.append(image)
        return out


for _cls in (WeightShiftEditor, OneBufferEditor, SizeEditor):
    if _cls.name not in EDITORS:
        EDITORS.register(_cls.name, _cls)


def run(split, out, method, metrics=("mse_bg",), **kw):
    return run_eval(
        RunConfig(method=method, split=str(split), out=out, metrics=list(metrics), **kw), progress=False
    )


def edits(out) -> dict[str, np.ndarray]:
    table = pd.read_parquet(out / "samples.parquet")
    return {row.sample_id: load_image(out / row.output_path) for row in table.itertuples() if row.output_path}


def sources(split) -> dict[str, np.ndarray]:
    return {p.stem: load_image(p) for p in (split.parent / "images").glob("*.png")}


def test_weights_named_by_env_var_key_the_edit_cache_and_the_resume_check(tmp_path, monkeypatch):
    split = make_split(tmp_path / "split", ["a", "b"])
    weights_a, weights_b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    _safetensors(weights_a, shift="10")
    _safetensors(weights_b, shift="50")
    monkeypatch.setenv("RSES_FAKE_SHIFT_W", str(weights_a))
    run(split, tmp_path / "run-a", "fake-wshift")
    monkeypatch.setenv("RSES_FAKE_SHIFT_W", str(weights_b))
    run(split, tmp_path / "run-b", "fake-wshift")
    src = sources(split)
    for sample_id, edit in edits(tmp_path / "run-b").items():
        np.testing.assert_array_equal(edit, src[sample_id] + 50)  # B's edits, not A's from the cache
    with pytest.raises(RsesError, match=r"editor_weights_key.*a\.safetensors.*now: editor .*b\.safetensors"):
        run(split, tmp_path / "run-a", "fake-wshift")  # resuming A's run with B's weights
    # the same bytes under another name are the same weights: the run resumes
    shutil.copy(weights_a, tmp_path / "a-copy.safetensors")
    monkeypatch.setenv("RSES_FAKE_SHIFT_W", str(tmp_path / "a-copy.safetensors"))
    assert run(split, tmp_path / "run-a", "fake-wshift").n_skipped == 2


@needs_trunk
def test_resume_with_other_metric_weights_refuses_and_run_json_records_them(tmp_path):
    from safetensors.numpy import load_file, save_file

    split = make_split(tmp_path / "split", ["a", "b"])
    run(split, tmp_path / "run", "fake-shift", metrics=["lpips_bg"], lpips_weights=str(ALEX))
    record = read_run_record(tmp_path / "run" / "run.json")
    (model,) = record.models
    assert (
        model["role"] == "metric:lpips" and model["reference"] == str(ALEX) and model["origin"] == "argument"
    )
    assert model["files"] == [
        {
            "name": ALEX.name,
            "path": str(ALEX),
            "size": ALEX.stat().st_size,
            "sha256": "9f97fd313f4da83dbe6bbfbe6effca1241de9edfcd7c53386261ed9697286dd9",
        }
    ]
    assert model["check"] == "verified: known sha256" and record.weight_check == "checked"
    assert record.metric_info["lpips_bg"]["needs"] == ["lpips"]  # a sorted list, not a frozenset repr
    # a real trunk in another file (extra tensor): still the LPIPS trunk, but other weights than the run's
    other = tmp_path / "other.safetensors"
    save_file({**load_file(str(ALEX)), "extra": np.zeros(1, np.float32)}, str(other))
    with pytest.raises(RsesError, match="metric_weights_key"):
        run(split, tmp_path / "run", "fake-shift", metrics=["lpips_bg"], lpips_weights=str(other))


def test_editor_returning_views_of_one_buffer_scores_each_sample_against_its_own_edit(tmp_path):
    split = make_split(tmp_path / "split", [f"s{i}" for i in range(8)])
    result = run(split, tmp_path / "run", "fake-onebuffer", batch_size=4)
    assert (result.n_ok, result.n_failed) == (8, 0)
    src = sources(split)
    got = edits(tmp_path / "run")
    assert sorted(got) == sorted(src)
    for sample_id, edit in got.items():
        np.testing.assert_array_equal(edit, 255 - src[sample_id])
    # mse_bg is the mean over background pixels of the squared error in [0, 1] units, computed here by numpy
    table = pd.read_parquet(tmp_path / "run" / "samples.parquet").set_index("sample_id")
    from rses.io import load_mask

    for sample_id, image in src.items():
        bg = ~load_mask(split.parent / "masks" / f"{sample_id}.png")
        diff = (image.astype(np.float64) - (255 - image)) / 255
        assert table.loc[sample_id, "mse_bg"] == pytest.approx((diff[bg] ** 2).mean(), rel=1e-6)


def test_size_policy_resizes_allowed_sizes_and_refuses_the_rest_without_caching_them(tmp_path):
    split = make_split(tmp_path / "split", ["big", "huge", "wide", "same"])
    result = run(split, tmp_path / "run", "fake-size")
    table = pd.read_parquet(tmp_path / "run" / "samples.parquet").set_index("sample_id")
    assert table["status"].to_dict() == {"big": "ok", "huge": "failed", "wide": "failed", "same": "ok"}
    assert (table.loc["big", "edit_height"], table.loc["big", "edit_width"]) == (64, 64)
    assert load_image(tmp_path / "run" / table.loc["big", "output_path"]).shape == (32, 32, 3)
    assert (
        "returned a 320x320 image for sample 'huge' whose source is 32x32; allowed: each side within"
        in (table.loc["huge", "error"])
    )
    assert "64x32 image for sample 'wide'" in table.loc["wide", "error"]
    assert result.n_failed == 2
    cache_dir = EditCache(EDITORS.get("fake-size")()).dir
    assert sorted(p.name.split("-")[0] for p in cache_dir.glob("*.png")) == ["big", "same"]


def test_a_cached_edit_the_policy_refuses_is_made_again(tmp_path, caplog):
    split = make_split(tmp_path / "split", ["same"])
    run(split, tmp_path / "run1", "fake-size")
    (cached,) = EditCache(EDITORS.get("fake-size")()).dir.glob("*.png")
    save_image(cached, np.zeros((320, 32, 3), np.uint8))  # e.g. written by an older rses
    run(split, tmp_path / "run2", "fake-size")
    table = pd.read_parquet(tmp_path / "run2" / "samples.parquet")
    assert table["status"].tolist() == ["ok"] and not table["cached"].any()
    assert "Unusable cached edit" in caplog.text


def test_interrupted_resume_of_a_finished_run_keeps_its_counts(tmp_path):
    split = make_split(tmp_path / "split", ["ok1", "raise1", "ok2"])
    out = tmp_path / "run"
    result = run(split, out, "fake-flaky")
    assert (result.n_ok, result.n_failed, result.complete) == (2, 1, True)
    before = read_run_record(out / "run.json")

    class Interrupted(EDITORS.get("fake-flaky")):
        def edit(self, requests):
            raise KeyboardInterrupt  # Ctrl-C while the failed sample is retried

    with pytest.raises(KeyboardInterrupt):
        run_eval(
            RunConfig(method="fake-flaky", split=str(split), out=out, metrics=["mse_bg"], retry_failed=True),
            progress=False,
            editor=Interrupted(),
        )
    after = read_run_record(out / "run.json")
    assert (after.n_ok, after.n_failed, after.n_expected, after.complete) == (2, 1, 3, True)
    assert after.finished == before.finished and after.n_sessions == 2
    from rses.leaderboard import leaderboard_table
    from rses.results import load_run

    assert leaderboard_table([load_run(out)])[0]["n"].tolist() == [2]


def test_csv_cells_that_spreadsheets_would_run_are_neutralised_parquet_keeps_them(tmp_path):
    root = tmp_path / "split"
    image = np.random.default_rng(0).integers(0, 200, (16, 16, 3), dtype=np.uint8)
    mask = np.zeros((16, 16), bool)
    mask[4:12, 4:12] = True
    save_image(root / "i.png", image)
    save_mask(root / "m.png", mask)
    ids = ["=1+2", "+cmd", "-2", "@SUM(A1)", "\tx", "plain"]
    records = [
        sample_record(root, i, root / "i.png", root / "m.png", "=HYPERLINK(1)", STYLES[0]) for i in ids
    ]
    split = write_manifest(root / "split.jsonl", records)
    run(split, tmp_path / "run", "fake-shift")
    raw = pd.read_parquet(tmp_path / "run" / "samples.parquet")
    assert raw["sample_id"].tolist() == ids and set(raw["object_name"]) == {"=HYPERLINK(1)"}
    csv = pd.read_csv(tmp_path / "run" / "samples.csv", keep_default_na=False)
    assert csv["sample_id"].tolist() == ["'=1+2", "'+cmd", "'-2", "'@SUM(A1)", "'\tx", "plain"]
    assert set(csv["object_name"]) == {"'=HYPERLINK(1)"}
    assert csv["mse_bg"].dtype == np.float64  # numbers stay numbers


def test_old_run_json_of_schema_1_still_reads(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "method": "identity",
                "split": "test",
                "metric_info": {"rses": {"higher_is_better": True, "needs": "frozenset({'lpips', 'clip'})"}},
                "n_ok": 44,
                "complete": True,
                "an_old_field": 1,
            }
        )
    )
    record = read_run_record(path)
    assert record.metric_info["rses"]["needs"] == ["clip", "lpips"] and record.n_ok == 44
    assert record.weight_check == "not recorded" and record.models == []
    path.write_text(json.dumps({"schema_version": 99, "method": "x", "split": "y"}))
    with pytest.raises(RsesError, match="schema_version 99; this rses reads"):
        read_run_record(path)


def test_rses_score_csv_neutralises_formula_file_stems(tmp_path, capsys):
    from harness_kit import cli

    for sub in ("src", "edit", "mask"):
        (tmp_path / sub).mkdir()
    image = np.random.default_rng(0).integers(0, 200, (16, 16, 3), dtype=np.uint8)
    mask = np.zeros((16, 16), bool)
    mask[4:12, 4:12] = True
    for stem in ("=cmd", "ok"):
        save_image(tmp_path / "src" / f"{stem}.png", image)
        save_image(tmp_path / "edit" / f"{stem}.png", image)
        save_mask(tmp_path / "mask" / f"{stem}.png", mask)
    out = tmp_path / "scores.csv"
    code, _, err = cli(
        capsys,
        "score",
        *(str(tmp_path / s) for s in ("src", "edit", "mask")),
        "--style",
        "pixel-art",
        "--metrics",
        "mse_bg",
        "--out",
        str(out),
    )
    assert code in (0, None), err
    assert sorted(pd.read_csv(out)["sample_id"]) == ["'=cmd", "ok"]


def test_kontext_weights_key_on_content_whether_named_by_flag_or_env_var(tmp_path, monkeypatch):
    from baselines.kontext import KontextConfig, KontextEditor

    def pipeline_folder(name: str, content: str) -> Path:
        folder = tmp_path / name
        (folder / "transformer").mkdir(parents=True)
        (folder / "model_index.json").write_text("{}")
        _safetensors(folder / "transformer" / "w.safetensors", content=content)
        return folder

    a, a_copy, b = pipeline_folder("A", "1"), pipeline_folder("A2", "1"), pipeline_folder("B", "2")
    monkeypatch.delenv("RSES_KONTEXT_WEIGHTS", raising=False)
    by_flag = KontextEditor(config=KontextConfig(weights=str(a)))
    (ident,) = by_flag.weight_identities()
    assert (ident.origin, ident.reference, [f.name for f in ident.files]) == (
        "argument",
        str(a),
        ["model_index.json", "transformer/w.safetensors"],
    )
    monkeypatch.setenv("RSES_KONTEXT_WEIGHTS", str(a_copy))
    by_env = KontextEditor()
    (same,) = by_env.weight_identities()
    assert same.origin == "env:RSES_KONTEXT_WEIGHTS" and same.key() == ident.key()
    assert by_env.config_hash() == by_flag.config_hash()  # the reference's text is not part of the key
    assert EditCache(by_env).dir == EditCache(by_flag).dir
    monkeypatch.setenv("RSES_KONTEXT_WEIGHTS", str(b))
    assert EditCache(KontextEditor()).dir != EditCache(by_flag).dir  # other weights, other cache folder


@needs_trunk
def test_eval_refuses_a_random_lpips_trunk_and_a_skipped_check_is_marked_and_not_ranked(tmp_path, capsys):
    from harness_kit import cli
    from safetensors.numpy import load_file, save_file

    from rses.leaderboard import leaderboard_table
    from rses.results import load_run

    fake = tmp_path / "alexnet-owt-7be5be79.safetensors"
    rng = np.random.default_rng(0)
    save_file(
        {k: rng.normal(0, 0.05, v.shape).astype(np.float32) for k, v in load_file(str(ALEX)).items()},
        str(fake),
    )
    split = make_split(tmp_path / "split", ["a", "b"])
    args = [
        "eval",
        "-m",
        "fake-shift",
        "-s",
        str(split),
        "--metrics",
        "lpips_bg",
        "--lpips-weights",
        str(fake),
    ]
    code, _, err = cli(capsys, *args, "-o", str(tmp_path / "refused"), "--no-progress")
    assert code == 1 and "not what they claim to be" in " ".join(err.split()) and "Traceback" not in err
    assert not (tmp_path / "refused" / "run.json").exists()
    code, _, err = cli(capsys, *args, "-o", str(tmp_path / "run"), "--no-progress", "--skip-weight-check")
    assert code == 0, err
    run = load_run(tmp_path / "run")
    assert run.record.weight_check == "skipped" and run.record.models[0]["check"] == "skipped"
    table, _ = leaderboard_table([run])
    assert table["not_ranked_because"].tolist() == ["weights unverified (--skip-weight-check)"]
