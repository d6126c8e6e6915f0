import pytest

from rses.cli import main


def _run(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def test_rses_report_and_plot(synthetic_runs, tmp_path):
    assert (
        _run(["report", *map(str, synthetic_runs[:2]), "--out", str(tmp_path / "r.html"), "--grid", "1"]) == 0
    )
    assert "<table class=sortable>" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert _run(["plot", *map(str, synthetic_runs[:2]), "--out", str(tmp_path / "plots"), "--grid", "0"]) == 0
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["by-size.csv", "by-size.png", "by-style.csv", "by-style.png", "tradeoff.png"]


def test_bad_size_bins_exit_2(synthetic_runs, tmp_path, capsys):
    assert _run(["report", str(synthetic_runs[0]), "--small-below", "0.5", "--large-from", "0.2"]) == 2
    assert "small_below < large_from" in capsys.readouterr().err


def test_not_a_run_exits_1(tmp_path, capsys):
    assert _run(["report", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 1
    assert "is not a run directory" in capsys.readouterr().err


def test_plot_names_the_runs_a_figure_leaves_out(synthetic_runs, pixel_only_run, tmp_path, capsys):
    runs = [str(synthetic_runs[0]), str(pixel_only_run)]
    assert _run(["plot", *runs, "--out", str(tmp_path / "plots"), "--grid", "0"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "tradeoff.png: Not drawn: pixel-only (no rsm, lpips_bg)" in out
