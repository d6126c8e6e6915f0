"""The options that shape a metric are declared once and identical on every command that scores."""

import json

import numpy as np
import pytest
import typer

from rses.cli import main
from rses.cli.app import app
from rses.cli.options import METRIC_OPTIONS
from rses.data.manifest import sample_record, write_manifest
from rses.io import save_image

SCORING_COMMANDS = (("score",), ("eval",), ("suite", "run"))


def _command(path: tuple[str, ...]):
    command = typer.main.get_command(app)
    for name in path:
        command = getattr(command, "commands", {}).get(name)
        if command is None:
            return None
    return command


def _describe(param) -> dict:
    return {
        "opts": param.opts,
        "secondary": param.secondary_opts,
        "default": param.default,
        "type": str(param.display_type),
        "flag": getattr(param, "is_flag", False),
        "help": getattr(param, "help", None),
    }


def test_metric_options_are_identical_on_every_scoring_command():
    commands = {path: _command(path) for path in SCORING_COMMANDS}
    present = {path: cmd for path, cmd in commands.items() if cmd is not None}
    assert {("score",), ("eval",)} <= set(present)
    seen = {}
    for path, cmd in present.items():
        params = {p.name: p for p in cmd.params}
        missing = sorted(set(METRIC_OPTIONS) - set(params))
        assert not missing, f"rses {' '.join(path)} lacks {missing}"
        seen[path] = {name: _describe(params[name]) for name in METRIC_OPTIONS}
    first = seen[("score",)]
    for path, described in seen.items():
        assert described == first, f"rses {' '.join(path)} declares the metric options differently"


def _soft_mask_split(root):
    """A one-sample split whose mask is soft (values 0, 30, 200, 255 as a JPEG mask would have)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, size=(32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 255
    mask[24, 8:24] = 200
    mask[7, 8:24] = 30  # below 0.5: background
    save_image(root / "images" / "a.png", image)
    (root / "masks").mkdir(parents=True)
    from PIL import Image

    Image.fromarray(mask, mode="L").save(root / "masks" / "a.png")
    record = sample_record(root, "a", root / "images" / "a.png", root / "masks" / "a.png", "box", "pixel-art")
    return write_manifest(root / "split.jsonl", [record])


def _run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_eval_takes_mask_threshold_and_records_the_metric_options(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path / "cache"))
    split = _soft_mask_split(tmp_path / "split")
    base = ["eval", "--method", "identity", "--split", str(split), "--metrics", "pixel", "--device", "cpu"]
    code, _, err = _run(capsys, *base, "--out", str(tmp_path / "hard"), "--no-progress")
    assert code == 1 and "--mask-threshold" in err  # the error names the option the command now has
    code, _, err = _run(
        capsys,
        *base,
        "--out",
        str(tmp_path / "soft"),
        "--no-progress",
        "--mask-threshold",
        "0.5",
        "--boundary",
        "2",
        "--metric-batch-size",
        "3",
    )
    assert code == 0, err
    info = json.loads((tmp_path / "soft" / "run.json").read_text())
    config = info["metric_config"]
    assert (config["mask_threshold"], config["boundary"], config["batch_size"], config["allow_pickle"]) == (
        0.5,
        2,
        3,
        False,
    )
    # The mask the run scored is the thresholded one: 16 + 1 rows of 16 px (the 200 row in, the 30 row out).
    import pandas as pd

    row = pd.read_csv(tmp_path / "soft" / "samples.csv").iloc[0]
    assert row["mask_area"] == pytest.approx(17 * 16 / 32**2)


@pytest.mark.parametrize(
    "flag, value, words",
    [
        ("--mask-threshold", "1.5", "--mask-threshold must lie in [0, 1]"),
        ("--boundary", "-1", "--boundary must be >= 0"),
        ("--metric-batch-size", "0", "--metric-batch-size must be >= 1"),
    ],
)
@pytest.mark.parametrize("command", ["score", "eval"])
def test_out_of_range_metric_options_are_one_line_usage_errors(capsys, tmp_path, command, flag, value, words):
    args = (
        ["score", "a.png", "b.png", "m.png", "--style", "pixel-art"]
        if command == "score"
        else ["eval", "--method", "identity", "--out", str(tmp_path / "r"), "--device", "cpu"]
    )
    code, _, err = _run(capsys, *args, flag, value)
    assert code == 2 and words in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()
