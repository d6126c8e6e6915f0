import base64
import io
import re

import pytest
from PIL import Image

from rses.report.html import write_report


@pytest.fixture(scope="module")
def page(synthetic_runs, tmp_path_factory):
    out = write_report(
        synthetic_runs, tmp_path_factory.mktemp("html") / "report.html", n_grid=2, n_extremes=2
    )
    return out.read_text(encoding="utf-8")


def _table(page: str, index: int) -> str:
    return re.findall(r"<table.*?</table>", page, flags=re.S)[index]


def test_leaderboard_rows_and_columns(page):
    board = _table(page, 0)
    assert board.count("<tr>") == 1 + 4  # header + one row per run
    headers = re.findall(r"<th data-col='[^']*'>([^<]+)</th>", board)
    for header in ("sees mask", "metric backend", "rsm ↑", "lpips_bg ↓", "mse_bg ↓"):
        assert header in headers
    assert headers[:2] == ["method", "combined ↑"]  # the sort column is second, always on screen
    assert "run" not in headers  # the run label is the method column
    paste = re.search(r"<tr><td><span class=swatch[^>]*></span>paste-style</td>.*?</tr>", board).group(0)
    assert "<td>yes</td>" in paste and "0.6400" in paste


def test_leaderboard_is_sorted_by_the_combined_column(page):
    board = _table(page, 0)
    first_two = r"<tr><td>(?:<span class=swatch[^>]*></span>)?[^<]+</td><td data-v='([^']*)'"
    combined = [float(v) for v in re.findall(first_two, board)]
    assert len(combined) == 4 and combined == sorted(combined, reverse=True)


def test_breakdown_tables(page):
    assert _table(page, 1).count("<tr>") == 1 + 16  # 4 methods x 4 styles
    sizes = _table(page, 2)
    assert sizes.count("<tr>") == 1 + 12  # 4 methods x small/medium/large
    assert "small &lt; 0.05" in page


def test_sample_rows_worst_and_best_per_method(page):
    samples = _table(page, 3)
    rows = re.findall(
        r"<tr><td>(?:<span class=swatch[^>]*></span>)?([^<]+)</td><td>((?:worst|best) \d)</td>", samples
    )
    assert len(rows) == 16  # 4 methods x (2 worst + 2 best)
    assert [rank for method, rank in rows if method == "paste-style"] == [
        "worst 1",
        "worst 2",
        "best 1",
        "best 2",
    ]


def test_page_is_self_contained_and_sortable(page):
    assert "function" in page and "aria-sort" in page and "table.sortable" in page
    assert not re.search(r"(src|href)=['\"](?!data:)", page)  # no external resource
    uris = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(uris) == 4 + 16 * 3  # 4 plots + (source, mask, output) per sample row
    for uri in uris:
        with Image.open(io.BytesIO(base64.b64decode(uri))) as img:
            assert img.size[0] > 0


def test_each_method_has_the_colour_of_its_plot_whatever_the_argument_order(synthetic_runs, tmp_path):
    from rses.report.plots import color_hex, method_colors

    pages = [
        write_report(order, tmp_path / f"r{i}.html", n_grid=0, n_extremes=1).read_text(encoding="utf-8")
        for i, order in enumerate([synthetic_runs, synthetic_runs[::-1]])
    ]
    swatch = r"background:(#[0-9a-f]{6})'></span>([^<]+)</td>"
    swatches = [{m: c for c, m in re.findall(swatch, p)} for p in pages]
    assert swatches[0] == swatches[1]
    assert len(set(swatches[0].values())) == 4  # four methods, four colours
    expected = {m: color_hex(c) for m, c in method_colors(list(swatches[0])).items()}
    assert swatches[0] == expected


def test_leaderboard_html_format_is_a_styled_page(synthetic_runs, tmp_path, capsys):
    from rses.cli import main

    out = tmp_path / "board.html"
    with pytest.raises(SystemExit) as info:
        main(["leaderboard", *map(str, synthetic_runs), "--format", "html", "--out", str(out)])
    assert info.value.code in (0, None)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and "<style>" in text and "<title>" in text
    assert "border-collapse" in text and "rses-leaderboard" in text
