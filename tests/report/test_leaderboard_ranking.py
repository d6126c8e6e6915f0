"""Leaderboards rank only comparable runs; every run's models are shown; one answer to "higher is better"."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
from pathlib import Path

import pandas as pd
import pytest

from rses.compare import higher_is_better
from rses.leaderboard import leaderboard_table, render
from rses.report.runs import load_runs, metric_directions
from rses.results import load_run
from rses.run_record import read_run_record, write_run_record

# this folder's conftest (by path: another test folder's conftest may hold the name "conftest")
_kit_spec = importlib.util.spec_from_file_location(
    "report_conftest_kit", Path(__file__).with_name("conftest.py")
)
_kit = importlib.util.module_from_spec(_kit_spec)
_kit_spec.loader.exec_module(_kit)
RUNS, make_run = _kit.RUNS, _kit.make_run
BEST = {"rsm": [0.99] * 12, "lpips_bg": [0.0] * 12, "mse_bg": [0.0] * 12}  # better than every real run


def edit_record(run_dir, **changes):
    path = run_dir / "run.json"
    write_run_record(path, dataclasses.replace(read_run_record(path), **changes))
    return run_dir


@pytest.fixture(scope="module")
def mixed_runs(tmp_path_factory, synthetic_manifest):
    root = tmp_path_factory.mktemp("mixed")
    real = [
        make_run(root / name, synthetic_manifest, name, RUNS[name]) for name in ("identity", "paste-style")
    ]
    smoke = make_run(root / "smoke", synthetic_manifest, "smoke-editor", BEST, smoke=True)
    partial = edit_record(
        make_run(root / "partial", synthetic_manifest, "partial", BEST), limit=8, n_split_samples=12
    )
    incomplete = edit_record(
        make_run(root / "incomplete", synthetic_manifest, "incomplete", BEST), complete=False, n_expected=20
    )
    unchecked = edit_record(
        make_run(root / "unchecked", synthetic_manifest, "unchecked", BEST), weight_check="skipped"
    )
    elsewhere = edit_record(
        make_run(root / "elsewhere", synthetic_manifest, "elsewhere", BEST),
        split="coco/test",
        split_manifest_sha256="f" * 64,
    )
    return real, [smoke, partial, incomplete, unchecked, elsewhere]


def test_smoke_partial_incomplete_unchecked_and_other_split_runs_are_not_ranked(mixed_runs):
    real, others = mixed_runs
    runs = [load_run(p) for p in [*others, *real]]
    table, _ = leaderboard_table(runs)
    assert table["ranked"].tolist() == [True, True, False, False, False, False, False]
    assert table["method"].tolist()[:2] == ["identity", "paste-style"]  # given order: no combined score
    why = dict(zip(table["method"], table["not_ranked_because"], strict=True))
    assert why["smoke-editor"] == "smoke (random-weight models)"
    assert why["partial"] == "subset (--limit 8 of 12)"
    assert why["incomplete"] == "incomplete (12/20 samples)"
    assert why["unchecked"] == "weights unverified (--skip-weight-check)"
    assert why["elsewhere"].startswith("other split (coco/test ffffffff; ranked: ")


def test_markdown_and_html_put_them_in_a_labelled_not_ranked_section(mixed_runs):
    real, others = mixed_runs
    runs = [load_run(p) for p in [*others, *real]]
    md = render(runs, "md")
    ranked_part, not_ranked_part = md.split("**Not ranked")
    assert "| identity |" in ranked_part and "| paste-style |" in ranked_part
    for name in ("smoke-editor", "partial", "incomplete", "unchecked", "elsewhere"):
        assert f"| {name} |" not in ranked_part and f"| {name} |" in not_ranked_part
    assert "why not ranked" in not_ranked_part and "**Models**" in md
    html = render(runs, "html")
    assert html.index("smoke-editor") > html.index("<h3>Not ranked")
    csv = pd.read_csv(io.StringIO(render(runs, "csv")))
    assert csv["ranked"].tolist() == [True, True, False, False, False, False, False]


def test_report_shows_not_ranked_runs_in_their_own_section(mixed_runs, tmp_path):
    from rses.report.html import write_report

    real, others = mixed_runs
    page = write_report([*others[:1], *real], tmp_path / "r.html", n_grid=0, n_extremes=0).read_text()
    section = page[page.index("<h2>Leaderboard</h2>") : page.index("<h2>Trade-off")]
    assert section.index("Not ranked") < section.index("smoke (random-weight models)")
    assert section.index("paste-style") < section.index("Not ranked")
    assert "data-col='models'" in section and "not recorded" in section  # schema-1 runs: models unknown


def test_all_complete_runs_on_one_split_are_all_ranked(synthetic_runs):
    table, _ = leaderboard_table([load_run(p) for p in synthetic_runs])
    assert table["ranked"].all() and "**Not ranked" not in render([load_run(p) for p in synthetic_runs], "md")


def test_the_catalogue_answers_higher_is_better_for_every_reader(tmp_path, synthetic_manifest):
    run_dir = make_run(tmp_path / "stale", synthetic_manifest, "stale", RUNS["identity"])
    record = read_run_record(run_dir / "run.json")
    info = {**record.metric_info, "lpips_bg": {**record.metric_info["lpips_bg"], "higher_is_better": True}}
    edit_record(run_dir, metric_info=info | {"custom": {"higher_is_better": True, "needs": []}})
    run = load_run(run_dir)
    assert higher_is_better("lpips_bg", [run]) is False  # the catalogue beats a stale record
    _, infos = load_runs([run_dir])
    assert metric_directions(infos)["lpips_bg"] is False
    assert higher_is_better("custom", [run]) is True  # unknown here: the record answers


def test_leaderboard_and_plot_csv_neutralise_formula_cells(tmp_path, synthetic_manifest, capsys):
    from rses.cli import main

    run_dir = make_run(tmp_path / "evil", synthetic_manifest, '=HYPERLINK("x")', RUNS["identity"])
    csv = pd.read_csv(io.StringIO(render([load_run(run_dir)], "csv")))
    assert csv["method"].tolist() == ['\'=HYPERLINK("x")']
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", str(run_dir), "--out", str(tmp_path / "plots"), "--grid", "0"])
    assert exit_info.value.code in (0, None)
    by_style = pd.read_csv(tmp_path / "plots" / "by-style.csv")
    assert set(by_style["method"]) == {'\'=HYPERLINK("x")'}
