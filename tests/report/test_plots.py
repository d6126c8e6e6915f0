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


def _legend_texts(fig):
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def _per_method(points, directions=("rsm", "lpips_bg")):
    x, y = directions
    rows = []
    for method, (vx, vy) in points.items():
        rows.append(
            {
                "method": method,
                x: vx,
                f"{x}_ci_low": vx,
                f"{x}_ci_high": vx,
                y: vy,
                f"{y}_ci_low": vy,
                f"{y}_ci_high": vy,
            }
        )
    return pd.DataFrame(rows)


def _boxes_overlap(fig, texts):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    return [
        (a.get_text(), b.get_text())
        for i, a in enumerate(texts)
        for b in texts[i + 1 :]
        if boxes[texts.index(a)].overlaps(boxes[texts.index(b)])
    ]


def test_tradeoff_labels_of_nearby_methods_do_not_overlap():
    points = {
        "paste-style": (0.60, 0.050),
        "clone-style": (0.601, 0.051),
        "weak-paste": (0.602, 0.0505),
        "identity": (0.5, 0.0),
        "global-style": (0.7, 0.4),
    }
    fig = plots.tradeoff_figure(_per_method(points), "rsm", "lpips_bg", {"rsm": True, "lpips_bg": False})
    labels = fig.axes[0].texts
    assert sorted(t.get_text() for t in labels) == sorted(points)
    assert _boxes_overlap(fig, list(labels)) == []


def test_tradeoff_legend_lists_only_what_is_drawn():
    directions = {"rsm": True, "lpips_bg": False}
    # one method dominates the other: the front is one point, so no front line is drawn or listed
    fig = plots.tradeoff_figure(
        _per_method({"a": (0.7, 0.1), "b": (0.5, 0.3)}), "rsm", "lpips_bg", directions
    )
    assert _legend_texts(fig) == ["a", "b"]
    assert not [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    fig = plots.tradeoff_figure(
        _per_method({"a": (0.7, 0.3), "b": (0.5, 0.1)}), "rsm", "lpips_bg", directions
    )
    assert sorted(_legend_texts(fig)) == ["Pareto front", "a", "b"]


def test_tradeoff_names_the_runs_it_cannot_draw():
    table = _per_method({"a": (0.7, 0.3), "b": (float("nan"), 0.1)})
    fig = plots.tradeoff_figure(table, "rsm", "lpips_bg", {"rsm": True, "lpips_bg": False})
    assert _legend_texts(fig) == ["a"]
    assert any("Not drawn: b (no rsm)" in t.get_text() for t in fig.texts)


def test_bar_legend_is_outside_every_panel_and_zero_bars_are_visible(synthetic_runs):
    data = assemble.collect(synthetic_runs)
    fig = plots.group_bars_figure(data.by_style, "style", data.plotted, data.directions)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    assert _legend_texts(fig) == ["identity", "global-style", "paste-style", "weak"]  # once each
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        assert not legend.overlaps(ax.get_window_extent(renderer))
    # identity's lpips_bg is 0 in every style: its bars have zero height, so a line in its colour marks them
    lpips_ax = fig.axes[1]
    color = plots.method_colors(["identity"])["identity"]
    marks = [c for c in lpips_ax.collections if np.allclose(c.get_colors()[0][:3], color[:3])]
    assert marks and len(marks[0].get_segments()) == 4


def test_method_colors_follow_the_method_not_the_order():
    a = plots.method_colors(["identity", "paste-style", "global-style", "my-editor"])
    b = plots.method_colors(["my-editor", "global-style", "identity"])
    assert all(a[m] == b[m] for m in b)
    assert len(set(a.values())) == 4


def test_grid_picks_samples_from_several_photos(synthetic_runs):
    data = assemble.collect(synthetic_runs)
    # pretend every sample comes from one of two photos; objects differ, so the old rule took one photo
    photos = {sid: ("p1" if sid.startswith(("cat", "coffee")) else "p2") for sid in data.samples["sample_id"]}
    picked = plots.pick_grid_samples(data.samples, 2, photos)
    assert {photos[s] for s in picked} == {"p1", "p2"}


def test_extreme_ties_are_broken_by_sample_id(synthetic_runs):
    data = assemble.collect(synthetic_runs)
    table = assemble.extremes(data, 2)
    identity = table[table["method"] == "identity"]  # every identity sample scores the same
    ids = sorted(data.samples.loc[data.samples["method"] == "identity", "sample_id"])
    assert list(identity["sample_id"]) == ids[:4]
    assert list(identity["rank"]) == ["worst 1", "worst 2", "best 1", "best 2"]
