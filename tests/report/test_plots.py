from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from rses.report import assemble, plots
from rses.report.runs import source_lookup


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


def test_write_plots_writes_every_figure(synthetic_runs, tmp_path):
    data = assemble.collect(synthetic_runs)
    written = assemble.write_plots(data, tmp_path, n_grid=3)
    assert sorted(written) == ["by-size", "by-style", "grid", "tradeoff"]
    for path in written.values():
        width, height = _png_size(path)
        assert width > 300 and height > 200
    # grid: 3 rows x 6 columns (source, mask, 4 methods) of square cells -> wider than tall
    width, height = _png_size(written["grid"])
    assert width / height > 1.5


def test_tradeoff_front_of_synthetic_runs(synthetic_runs):
    data = assemble.collect(synthetic_runs)
    assert data.plotted == ["rsm", "lpips_bg"]
    front = plots.pareto_front(data.per_method["rsm"], data.per_method["lpips_bg"], True, False)
    assert dict(zip(data.per_method["method"], front.tolist(), strict=True)) == {
        "identity": True,
        "global-style": True,
        "paste-style": True,
        "weak": False,
    }


def test_grid_layout_columns_rows_and_failed_cells(synthetic_runs):
    data = assemble.collect(synthetic_runs)
    sources = source_lookup(data.runs)
    methods = ["identity", "weak"]
    columns, rows = plots.grid_layout(data.samples, sources, ["cat-pixel-art", "rocket-line-art"], methods)
    assert columns == ["source", "mask", "identity", "weak"]
    assert [(r.sample_id, r.style) for r in rows] == [
        ("cat-pixel-art", "pixel-art"),
        ("rocket-line-art", "line-art"),
    ]
    assert rows[0].cells[:2] == sources["cat-pixel-art"]
    assert rows[0].cells[2] == synthetic_runs[0] / "edits" / "cat-pixel-art.png"
    assert rows[1].cells[3] is None  # weak failed on rocket-line-art


def test_pick_grid_samples_cycles_styles_and_objects(synthetic_runs):
    data = assemble.collect(synthetic_runs)
    picked = plots.pick_grid_samples(data.samples, 4)
    # rocket-line-art failed for one method, so it is never picked; styles in sorted order, objects rotate
    assert picked == ["cat-cyberpunk", "coffee-expressionism", "cat-line-art", "rocket-pixel-art"]
    assert len(plots.pick_grid_samples(data.samples, 50)) == 11


def test_group_bars_with_a_missing_group(tmp_path):
    table = pd.DataFrame(
        {
            "method": ["a", "a", "b"],
            "size": ["small", "large", "small"],
            "n": [1, 1, 1],
            "m": [1.0, 2.0, 3.0],
            "m_ci_low": [0.5, 2.0, 3.0],
            "m_ci_high": [1.5, 2.0, 3.0],
        }
    )
    path = plots.group_bars(table, "size", ["m"], {"m": True}, tmp_path / "bars.png")
    assert _png_size(path)[0] > 300
    pixels = np.asarray(Image.open(path).convert("L"))
    assert pixels.min() < 100  # something was drawn
