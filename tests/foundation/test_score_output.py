"""`rses score` prints only the metrics it computed and says why the others were skipped."""

import pytest

from rses.cli import main

BUILTIN = "rses/data/builtin"
PAIR = [
    f"{BUILTIN}/images/chelsea.png",
    f"{BUILTIN}/targets/chelsea-cat-pixel-art.png",
    f"{BUILTIN}/masks/chelsea-cat.png",
]
TARGET_METRICS = ("mse_in", "ssim_in", "ref_gain", "rses_ref")


def run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(["score", *args])
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])


def test_without_a_target_the_target_metrics_are_skipped_with_a_reason(capsys):
    code, out, err = run(capsys, *PAIR, "--style", "pixel-art")
    assert code == 0, err
    assert "nan" not in out.lower()
    assert "psnr_bg" in out and "pixel_consistency" in out
    assert not any(name in out for name in TARGET_METRICS)
    assert all(name in err for name in TARGET_METRICS)
    assert "--target" in err


def test_with_a_target_every_selected_metric_is_printed(capsys):
    code, out, err = run(capsys, *PAIR, "--style", "pixel-art", "--target", PAIR[1])
    assert code == 0, err
    assert all(name in out for name in TARGET_METRICS)
    assert "skipped" not in err.lower()


def test_only_target_metrics_without_a_target_is_a_usage_error(capsys):
    code, _, err = run(capsys, *PAIR, "--style", "pixel-art", "--metrics", "mse_in,rses_ref")
    assert code == 2
    assert "--target" in err and "mse_in" in err
