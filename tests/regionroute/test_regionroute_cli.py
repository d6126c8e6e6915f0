from typer.testing import CliRunner

from rses.cli import app
from rses.data.manifest import load_split


def test_train_smoke_and_pseudo_gt(tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "train",
            "regionroute",
            "--style",
            "pixel-art",
            "--smoke",
            "--steps",
            "1",
            "--batch-size",
            "1",
            "--grad-accum",
            "1",
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "pixel-art.safetensors").is_file()
    res = runner.invoke(app, ["data", "pseudo-gt", "--out", str(tmp_path / "pgt"), "--blend", "alpha"])
    assert res.exit_code == 0, res.output
    split = load_split(str(tmp_path / "pgt" / "pseudo_gt.jsonl"))
    assert len(split.samples) == len(load_split("train").samples)
