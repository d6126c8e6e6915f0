"""Report figures (matplotlib, no display needed): trade-off with Pareto front, grouped bars, image grid.

All functions draw on a bare :class:`matplotlib.figure.Figure` (the Agg canvas, never ``pyplot``), write
one PNG and return its path, so they are safe in headless runs and threads.

* :func:`tradeoff_plot`: each method's mean style metric (x) against its mean background metric (y), with
  95% CI bars, the Pareto front drawn and ringed, and methods that saw the mask drawn as squares.
* :func:`group_bars`: per-style or per-size bars with 95% CIs, one panel per metric.
* :func:`qualitative_grid`: source | mask | each method's output, one row per sample (the paper's Fig. 3).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from rses.pixels import load_image, load_mask
from rses.report.pareto import pareto_front

#: sample id -> (source image path, mask path)
SourceLookup = Mapping[str, tuple[Path, Path]]

_DPI = 110
#: Text settings every figure is drawn and saved under: user-supplied names are never parsed as markup.
LITERAL_TEXT = {"text.usetex": False, "text.parse_math": False}


def _literal_text(draw: Any):
    """Run a figure function under ``LITERAL_TEXT`` (texts read these settings when made and when drawn)."""

    @functools.wraps(draw)
    def drawn(*args: Any, **kwargs: Any):
        with matplotlib.rc_context(LITERAL_TEXT):
            return draw(*args, **kwargs)

    return drawn


#: Method colours: tab20's strong shades first, then its light ones (neighbours in the registry differ).
_PALETTE = tuple(matplotlib.colormaps["tab20"].colors[0::2] + matplotlib.colormaps["tab20"].colors[1::2])


def method_colors(methods: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """One colour per method that depends on the method, not on the argument order, in every figure and table.

    A registered editor takes the ``tab20`` colour of its place in the sorted registry (so ``paste-style``
    is the same colour in ``rses plot``, ``rses report`` and any subset of runs); any other label a colour
    from a hash of its name. A label ``"<method> (<run dir>)"`` (two runs of one method) starts from its
    method's colour; labels that would share a colour take the next free one, in sorted order.

    Example:
        >>> a = method_colors(["paste-style", "identity"]); b = method_colors(["identity", "paste-style"])
        >>> a == b and a["identity"] != a["paste-style"]
        True
    """
    from rses.editing import EDITORS

    palette = _PALETTE
    known = sorted(EDITORS.names())
    out: dict[str, tuple[float, ...]] = {}
    used: set[int] = set()
    for label in sorted(dict.fromkeys(methods)):
        base = label.split(" (", 1)[0]
        index = known.index(base) if base in known else zlib.crc32(base.encode())
        index %= len(palette)
        for step in range(len(palette)):
            if (index + step) % len(palette) not in used or len(used) >= len(palette):
                index = (index + step) % len(palette)
                break
        used.add(index)
        out[label] = palette[index]
    return {m: out[m] for m in methods}


def color_hex(color: Sequence[float]) -> str:
    """``#rrggbb`` of an RGB tuple in [0, 1] (for the HTML page's colour swatches)."""
    return "#" + "".join(f"{round(255 * c):02x}" for c in color[:3])


def drawable(table: pd.DataFrame, metrics: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """The methods of ``table`` that have a value for every metric, and the others with what they lack.

    Example:
        >>> t = pd.DataFrame({"method": ["a", "b"], "x": [1.0, 2.0], "y": [0.5, float("nan")]})
        >>> drawable(t, ["x", "y"])
        (['a'], {'b': ['y']})
    """
    drawn, left_out = [], {}
    for method in pd.unique(table["method"]):
        part = table[table["method"] == method]
        lacking = [m for m in metrics if m not in part or not part[m].notna().any()]
        if lacking:
            left_out[str(method)] = lacking
        else:
            drawn.append(str(method))
    return drawn, left_out


def left_out_note(left_out: Mapping[str, Sequence[str]]) -> str:
    """``"Not drawn: a (no rsm), b (no rsm, lpips_bg)"``, or "" when every run is drawn."""
    if not left_out:
        return ""
    return "Not drawn: " + ", ".join(f"{m} (no {', '.join(lack)})" for m, lack in left_out.items())


def direction_label(metric: str, higher_is_better: bool) -> str:
    """Axis label with the metric's direction, e.g. ``"lpips_bg (lower is better)"``."""
    return f"{metric} ({'higher' if higher_is_better else 'lower'} is better)"


@_literal_text
def tradeoff_plot(
    per_method: pd.DataFrame,
    x: str,
    y: str,
    directions: Mapping[str, bool],
    out: str | Path,
    sees_mask: Iterable[str] = (),
    title: str = "",
) -> Path:
    """Write :func:`tradeoff_figure` as the PNG ``out``; returns its path."""
    return _save(tradeoff_figure(per_method, x, y, directions, sees_mask, title), out)


@_literal_text
def tradeoff_figure(
    per_method: pd.DataFrame,
    x: str,
    y: str,
    directions: Mapping[str, bool],
    sees_mask: Iterable[str] = (),
    title: str = "",
) -> Figure:
    """Scatter each method's mean ``x`` against mean ``y`` with CI bars and the Pareto front.

    Methods without a value of ``x`` or ``y`` are not drawn; a note under the axes names them (see
    :func:`drawable`). Labels are placed where they overlap no other label, and the legend lists only what
    is drawn (the front's dashed line only when it joins two or more methods), outside the axes.

    Args:
        per_method: one row per method with ``method``, ``x``, ``y`` and their ``_ci_low``/``_ci_high``
            columns (see :func:`rses.report.breakdown.per_method`).
        x: the style-success metric.
        y: the background-distortion metric.
        directions: ``{metric: higher_is_better}``.
        sees_mask: labels of methods that saw the ground-truth mask (drawn as squares).
        title: figure title.
    """
    masked = set(sees_mask)
    colors = method_colors(list(per_method["method"]))
    drawn, left_out = drawable(per_method, [x, y])
    shown = per_method[per_method["method"].isin(drawn)].reset_index(drop=True)
    front = (
        pareto_front(shown[x], shown[y], directions[x], directions[y]) if len(shown) else np.zeros(0, bool)
    )
    fig = Figure(figsize=(7.2, 4.8), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    labels, handles = [], []  # legend handles given explicitly: matplotlib drops labels starting with "_"
    for (_, row), on_front in zip(shown.iterrows(), front, strict=True):
        xerr = [[row[x] - row[f"{x}_ci_low"]], [row[f"{x}_ci_high"] - row[x]]]
        yerr = [[row[y] - row[f"{y}_ci_low"]], [row[f"{y}_ci_high"] - row[y]]]
        marker = "s" if row["method"] in masked else "o"
        handle = ax.errorbar(
            row[x],
            row[y],
            xerr=np.nan_to_num(xerr),
            yerr=np.nan_to_num(yerr),
            fmt=marker,
            capsize=3,
            label=row["method"],
            color=colors[row["method"]],
        )
        handles.append((handle, str(row["method"])))
        if on_front:
            ax.plot(row[x], row[y], "o", ms=16, mfc="none", mec="black", lw=1)
        labels.append(
            ax.annotate(
                row["method"],
                (row[x], row[y]),
                textcoords="offset points",
                xytext=(6, 6),
                fontsize=8,
                arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 0.6, "shrinkA": 1, "shrinkB": 4},
            )
        )
    if front.sum() >= 2:
        order = np.argsort(shown[x].to_numpy()[front])
        (line,) = ax.plot(shown[x].to_numpy()[front][order], shown[y].to_numpy()[front][order], "k--", lw=1)
        handles.append((line, "Pareto front"))
    ax.set_xlabel(direction_label(x, directions[x]))
    ax.set_ylabel(direction_label(y, directions[y]))
    ax.set_title(title or f"{x} vs {y} (squares saw the mask; ringed: Pareto front)", fontsize=9)
    ax.grid(alpha=0.3)
    if drawn:
        fig.legend(*zip(*handles, strict=True), fontsize=7, loc="outside right upper")
    if left_out:
        fig.text(0.01, 0.01, left_out_note(left_out), fontsize=7, color="0.3", wrap=True)
    fig.get_layout_engine().execute(fig)
    place_labels(fig, labels)
    return fig


#: Offsets (points) tried for a point's label, nearest first; a thin line joins a label to its point.
_LABEL_OFFSETS = (
    (6, 6),
    (6, -14),
    (-6, 6),
    (-6, -14),
    (0, 12),
    (0, -20),
    (10, 0),
    (-10, 0),
    (14, 22),
    (-14, 22),
    (14, -30),
    (-14, -30),
    (0, 34),
    (0, -42),
    (30, 40),
    (-30, 40),
    (0, 56),
    (0, -64),
)


def place_labels(fig: Figure, labels: Sequence[matplotlib.text.Annotation]) -> None:
    """Move each annotation to the first offset of :data:`_LABEL_OFFSETS` where its text box overlaps no label
    placed before it and no labelled point, and stays inside the axes; when none does, to the offset with
    the fewest overlaps.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    axes_box = labels[0].axes.get_window_extent(renderer) if labels else None
    placed: list = []  # label boxes placed so far, and a box around every labelled point (its marker)
    for label in labels:
        px, py = label.axes.transData.transform(label.xy)
        placed.append(Bbox.from_extents(px - 5, py - 5, px + 5, py + 5))

    def text_box(label: matplotlib.text.Annotation, dx: float, dy: float) -> Bbox:
        label.set_position((dx, dy))
        label.set_horizontalalignment("right" if dx < 0 else "center" if dx == 0 else "left")
        label.update_positions(renderer)
        return Text.get_window_extent(label, renderer).expanded(1.05, 1.15)  # the text alone, not the line

    for label in labels:
        scored = []
        for rank, (dx, dy) in enumerate(_LABEL_OFFSETS):
            box = text_box(label, dx, dy)
            inside = axes_box.contains(box.x0, box.y0) and axes_box.contains(box.x1, box.y1)
            hits = sum(box.overlaps(other) for other in placed)
            scored.append((hits, not inside, rank))
            if not hits and inside:
                break
        _, _, rank = min(scored)
        placed.append(text_box(label, *_LABEL_OFFSETS[rank]))


@_literal_text
def group_bars(
    table: pd.DataFrame, by: str, metrics: Sequence[str], directions: Mapping[str, bool], out: str | Path
) -> Path:
    """Write :func:`group_bars_figure` as the PNG ``out``; returns its path."""
    return _save(group_bars_figure(table, by, metrics, directions), out)


@_literal_text
def group_bars_figure(
    table: pd.DataFrame, by: str, metrics: Sequence[str], directions: Mapping[str, bool]
) -> Figure:
    """Grouped bars of each metric per ``by`` group (x) and method (colour), with 95% CI error bars.

    The legend sits above the panels (never over a bar); a bar of height zero is drawn as a thick line in its
    colour so it stays visible; methods with no value of a metric are named under the panels.

    Args:
        table: a breakdown table (:func:`rses.report.breakdown.breakdown`).
        by: its group column (``"style"`` or ``"size"``).
        metrics: one panel per metric.
        directions: ``{metric: higher_is_better}`` for the axis labels.
    """
    groups = list(pd.unique(table[by]))
    methods = list(pd.unique(table["method"]))
    drawn, left_out = drawable(table, metrics)
    width = 0.8 / max(len(methods), 1)
    colors = method_colors(methods)
    fig = Figure(figsize=(max(4.0, 1.2 * len(groups)) * len(metrics), 4.2), dpi=_DPI, layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    handles = {}  # one legend entry per drawn method, given explicitly (matplotlib drops labels starting "_")
    for ax, metric in zip(axes, metrics, strict=True):
        for i, method in enumerate(methods):
            part = table[table["method"] == method].set_index(by).reindex(groups)
            mean = part[metric].to_numpy(dtype=float) if metric in part else np.full(len(groups), np.nan)
            low = part.get(f"{metric}_ci_low", pd.Series(np.nan, index=part.index)).to_numpy(dtype=float)
            high = part.get(f"{metric}_ci_high", pd.Series(np.nan, index=part.index)).to_numpy(dtype=float)
            err = np.nan_to_num(np.stack([mean - low, high - mean]))
            xs = np.arange(len(groups)) + (i - (len(methods) - 1) / 2) * width
            bars = ax.bar(xs, mean, width, yerr=err, capsize=2, color=colors[method])
            if method in drawn:
                handles.setdefault(method, bars)
            flat = np.isfinite(mean) & (mean == 0)
            ax.hlines(mean[flat], xs[flat] - width / 2, xs[flat] + width / 2, colors=[colors[method]], lw=3)
        ax.set_xticks(np.arange(len(groups)), [str(g) for g in groups])
        ax.set_ylabel(direction_label(metric, directions.get(metric, True)))
        ax.set_title(f"{metric} by {by} (95% CI)", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.axhline(0, color="0.4", lw=0.8, zorder=0.5)
    if drawn:
        fig.legend(
            list(handles.values()),
            [str(m) for m in handles],
            fontsize=7,
            loc="outside upper center",
            ncols=min(len(drawn), 6),
        )
    if left_out:
        fig.text(0.01, 0.005, left_out_note(left_out), fontsize=7, color="0.3")
    return fig


@dataclass(frozen=True)
class GridRow:
    """One row of the qualitative grid: the sample and one image path per column (None: no image)."""

    sample_id: str
    style: str
    cells: tuple[Path | None, ...]


def grid_layout(
    samples: pd.DataFrame, sources: SourceLookup, sample_ids: Sequence[str], methods: Sequence[str]
) -> tuple[list[str], list[GridRow]]:
    """Columns ``["source", "mask", *methods]`` and one :class:`GridRow` per sample id.

    A method's cell is its edited PNG, or ``None`` when that sample failed or is missing from its run.
    """
    ok = samples[samples["status"] == "ok"].set_index(["method", "sample_id"])
    rows = []
    for sid in sample_ids:
        source, mask = sources[sid]
        outputs = []
        for method in methods:
            path = ok["output_path"].get((method, sid))
            outputs.append(Path(path) if isinstance(path, str) and path else None)
        style = samples.loc[samples["sample_id"] == sid, "style"].iloc[0]
        rows.append(GridRow(sid, str(style), (Path(source), Path(mask), *outputs)))
    return ["source", "mask", *methods], rows


def pick_grid_samples(
    samples: pd.DataFrame, n: int = 4, photos: Mapping[str, str] | None = None
) -> list[str]:
    """Up to ``n`` sample ids that every method edited successfully, from as many photos as possible.

    It cycles through the styles; within a style it takes the sample whose photo (``photos[sample_id]``, e.g.
    the source path; default the object name) and then object were shown least so far (ties: sorted id),
    so the grid varies photo, object and style. Deterministic.
    """
    methods = samples["method"].nunique()
    ok = samples[samples["status"] == "ok"]
    counts = ok.groupby("sample_id")["method"].nunique()
    common = ok[ok["sample_id"].isin(counts[counts == methods].index)].drop_duplicates("sample_id")
    photo = {
        sid: (photos or {}).get(sid, obj)
        for sid, obj in zip(common["sample_id"], common["object_name"], strict=True)
    }
    pools = {style: part.sort_values("sample_id") for style, part in common.groupby("style", sort=True)}
    shown_photo: dict[str, int] = {}
    shown: dict[str, int] = {}
    picked: list[str] = []
    while len(picked) < n and any(len(pool) for pool in pools.values()):
        for style, pool in pools.items():
            if len(pool) and len(picked) < n:
                key = [
                    shown_photo.get(photo[sid], 0) * 10_000 + shown.get(obj, 0)
                    for sid, obj in zip(pool["sample_id"], pool["object_name"], strict=True)
                ]
                choice = pool.iloc[int(np.argmin(key))]
                shown[choice["object_name"]] = shown.get(choice["object_name"], 0) + 1
                shown_photo[photo[choice["sample_id"]]] = shown_photo.get(photo[choice["sample_id"]], 0) + 1
                picked.append(choice["sample_id"])
                pools[style] = pool.drop(choice.name)
    return picked


@_literal_text
def qualitative_grid(
    samples: pd.DataFrame,
    sources: SourceLookup,
    sample_ids: Sequence[str],
    methods: Sequence[str],
    out: str | Path,
    cell_inches: float = 1.8,
) -> Path:
    """Draw source | mask | each method's output for each sample (rows), titled by column.

    Missing outputs (failed samples) show as a grey cell with the word "failed".
    """
    columns, rows = grid_layout(samples, sources, sample_ids, methods)
    fig = Figure(
        figsize=(cell_inches * len(columns), cell_inches * max(len(rows), 1) + 0.3),
        dpi=_DPI,
        layout="constrained",
    )
    axes = fig.subplots(max(len(rows), 1), len(columns), squeeze=False)
    for r, row in enumerate(rows):
        for c, path in enumerate(row.cells):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if path is None:
                ax.set_facecolor("0.85")
                ax.text(0.5, 0.5, "failed", ha="center", va="center", transform=ax.transAxes)
            elif c == 1:
                ax.imshow(load_mask(path), cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(load_image(path))
            if r == 0:
                ax.set_title(columns[c], fontsize=9)
        axes[r][0].set_ylabel(f"{row.sample_id}\n{row.style}", fontsize=7)
    return _save(fig, out)


@_literal_text
def _save(fig: Figure, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
