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
    for header in ("sees mask", "metric backend", "rsm ↑", "lpips_bg ↓", "mse_bg ↓"):
        assert f"<th>{header}</th>" in board
    paste = re.search(r"<tr><td>paste-style</td>.*?</tr>", board).group(0)
    assert "<td>yes</td>" in paste and "0.6400" in paste


def test_breakdown_tables(page):
    assert _table(page, 1).count("<tr>") == 1 + 16  # 4 methods x 4 styles
    sizes = _table(page, 2)
    assert sizes.count("<tr>") == 1 + 12  # 4 methods x small/medium/large
    assert "small &lt; 0.05" in page


def test_sample_rows_worst_and_best_per_method(page):
    samples = _table(page, 3)
    rows = re.findall(r"<tr><td>([^<]+)</td><td>((?:worst|best) \d)</td>", samples)
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
