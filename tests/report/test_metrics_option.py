"""`--metrics` is checked on every command that takes it: a misspelt or absent metric is a one-line usage error
(exit 2) that names the close match, before any work; never an empty or NaN column."""

import pytest

from rses.cli import main

IMAGE = "rses/data/builtin/images/chelsea.png"
TARGET = "rses/data/builtin/targets/chelsea-cat-pixel-art.png"
MASK = "rses/data/builtin/masks/chelsea-cat.png"


def _run(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, " ".join(err.split())


@pytest.mark.parametrize("command", ["compare", "leaderboard"])
@pytest.mark.parametrize(("given", "close"), [("lpips_gb", "lpips_bg"), ("rms", "rsm"), ("msebg", "mse_bg")])
def test_reading_commands_refuse_a_misspelt_metric_naming_the_close_match(
    capsys, synthetic_runs, command, given, close
):
    code, out, err = _run(capsys, [command, *map(str, synthetic_runs[:2]), "--metrics", given])
    assert code == 2, (out, err)
    assert f"--metrics {given!r}" in err
    assert f"Did you mean {close}" in err
    assert "Traceback" not in err
    assert err.count("error:") == 1


@pytest.mark.parametrize("command", ["compare", "leaderboard"])
def test_a_known_metric_the_runs_were_not_scored_with_is_a_usage_error(capsys, synthetic_runs, command):
    code, _, err = _run(capsys, [command, *map(str, synthetic_runs[:2]), "--metrics", "psnr_bg"])
    assert code == 2
    assert "'psnr_bg'" in err and "Available: rsm, lpips_bg, mse_bg" in err


@pytest.mark.parametrize("command", ["compare", "leaderboard"])
def test_valid_metrics_comma_list_and_groups_still_work(capsys, synthetic_runs, command):
    code, out, err = _run(capsys, [command, *map(str, synthetic_runs[:2]), "--metrics", "mse_bg,clip"])
    assert code == 0, err
    assert "mse_bg" in out and "rsm" in out
    assert "lpips_bg" not in out


def test_leaderboard_shows_only_the_chosen_metric(capsys, synthetic_runs):
    code, out, _ = _run(
        capsys, ["leaderboard", *map(str, synthetic_runs[:2]), "--metrics", "mse_bg", "-f", "csv"]
    )
    assert code == 0
    header = out.splitlines()[0]
    assert "mse_bg" in header and "rsm" not in header and "lpips_bg" not in header


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "--method", "identity", "--split", "SPLIT", "--out", "OUT", "--metrics", "psnr_bgg"],
        [
            "publish-leaderboard",
            "--split",
            "SPLIT",
            "--out",
            "OUT",
            "--runs-dir",
            "OUT",
            "--metrics",
            "psnr_bgg",
        ],
        ["weights", "--metrics", "psnr_bgg"],
        ["score", IMAGE, TARGET, MASK, "--style", "pixel-art", "--metrics", "psnr_bgg"],
    ],
    ids=lambda argv: argv[0],
)
def test_scoring_commands_refuse_a_misspelt_metric_before_any_work(
    capsys, synthetic_manifest, tmp_path, argv
):
    out_dir = tmp_path / "out"
    argv = [str(synthetic_manifest) if a == "SPLIT" else str(out_dir) if a == "OUT" else a for a in argv]
    code, out, err = _run(capsys, argv)
    assert code == 2, (out, err)
    assert "'psnr_bgg'" in err and "Did you mean psnr_bg" in err
    assert not out_dir.exists(), "a misspelt metric must stop the command before it writes anything"
