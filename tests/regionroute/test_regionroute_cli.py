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


def test_train_refuses_a_missing_device_or_tracker_in_one_line(tmp_path, monkeypatch):
    import importlib.util

    import torch

    from rses.errors import UsageError

    runner = CliRunner()
    base = ["train", "regionroute", "--style", "pixel-art", "--smoke", "--steps", "1", "--out", str(tmp_path)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    res = runner.invoke(app, [*base, "--device", "cuda"])
    assert isinstance(res.exception, UsageError) and "no CUDA device is available" in str(res.exception)
    res = runner.invoke(app, [*base, "--log-with", "no-such-tracker"])
    assert isinstance(res.exception, UsageError) and "Unsupported logging capability" in str(res.exception)
    if importlib.util.find_spec("tensorboard") is None:
        res = runner.invoke(app, [*base, "--log-with", "tensorboard"])
        assert isinstance(res.exception, UsageError) and "package is not installed" in str(res.exception)
    res = runner.invoke(app, [*base, "--preset", "papers"])
    assert isinstance(res.exception, UsageError) and "Unknown preset 'papers'" in str(res.exception)
