"""Report figures (matplotlib, no display needed): trade-off with Pareto front, grouped bars, image grid.

All functions draw on a bare :class:`matplotlib.figure.Figure` (the Agg canvas, never ``pyplot``), write
one PNG and return its path, so they are safe in headless runs and threads.

* :func:`tradeoff_plot`: each method's mean style metric (x) against its mean background metric (y), with
  95% CI bars, the Pareto front drawn and ringed, and methods that saw the mask drawn as squares.
* :func:`group_bars`: per-style or per-size bars with 95% CIs, one panel per metric.
* :func:`qualitative_grid`: source | mask | each method's output, one row per sample (the paper's Fig. 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rses.io import load_image, load_mask
from rses.report.pareto import pareto_front

#: sample id -> (source image path, mask path)
SourceLookup = Mapping[str, tuple[Path, Path]]

_DPI = 110


def method_colors(methods: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """One fixed colour per method (matplotlib's ``tab10`` cycle, in the given order) for every figure."""
    palette = matplotlib.colormaps["tab10"].colors
    return {m: palette[i % len(palette)] for i, m in enumerate(methods)}


def direction_label(metric: str, higher_is_better: bool) -> str:
    """Axis label with the metric's direction, e.g. ``"lpips_bg (lower is better)"``."""
    return f"{metric} ({'higher' if higher_is_better else 'lower'} is better)"


def tradeoff_plot(
    per_method: pd.DataFrame,
    x: str,
    y: str,
    directions: Mapping[str, bool],
    out: str | Path,
    sees_mask: Iterable[str] = (),
    title: str = "",
) -> Path:
    """Scatter each method's mean ``x`` against mean ``y`` with CI bars and the Pareto front.

    Args:
        per_method: one row per method with ``method``, ``x``, ``y`` and their ``_ci_low``/``_ci_high``
            columns (see :func:`rses.report.breakdown.per_method`).
        x: the style-success metric; y: the background-distortion metric.
        directions: ``{metric: higher_is_better}``.
        out: PNG path to write.
        sees_mask: labels of methods that saw the ground-truth mask (drawn as squares).
        title: figure title.
    """
    masked = set(sees_mask)
    colors = method_colors(list(per_method["method"]))
    front = pareto_front(per_method[x], per_method[y], directions[x], directions[y])
    fig = Figure(figsize=(6.4, 4.8), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    for (_, row), on_front in zip(per_method.iterrows(), front, strict=True):
        xerr = [[row[x] - row[f"{x}_ci_low"]], [row[f"{x}_ci_high"] - row[x]]]
        yerr = [[row[y] - row[f"{y}_ci_low"]], [row[f"{y}_ci_high"] - row[y]]]
        marker = "s" if row["method"] in masked else "o"
        ax.errorbar(
            row[x],
            row[y],
            xerr=xerr,
            yerr=yerr,
            fmt=marker,
            capsize=3,
            label=row["method"],
            color=colors[row["method"]],
        )
        if on_front:
            ax.plot(row[x], row[y], "o", ms=16, mfc="none", mec="black", lw=1)
        ax.annotate(row["method"], (row[x], row[y]), textcoords="offset points", xytext=(6, 6), fontsize=8)
    order = np.argsort(per_method[x].to_numpy()[front])
    ax.plot(
        per_method[x].to_numpy()[front][order],
        per_method[y].to_numpy()[front][order],
        "k--",
        lw=1,
        label="Pareto front",
    )
    ax.set_xlabel(direction_label(x, directions[x]))
    ax.set_ylabel(direction_label(y, directions[y]))
    ax.set_title(title or f"{x} vs {y} (squares saw the mask; ringed: Pareto front)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, out)


def group_bars(
    table: pd.DataFrame, by: str, metrics: Sequence[str], directions: Mapping[str, bool], out: str | Path
) -> Path:
    """Grouped bars of each metric per ``by`` group (x) and method (colour), with 95% CI error bars.

    Args:
        table: a breakdown table (:func:`rses.report.breakdown.breakdown`).
        by: its group column (``"style"`` or ``"size"``).
        metrics: one panel per metric.
        directions: ``{metric: higher_is_better}`` for the axis labels.
        out: PNG path to write.
    """
    groups = list(pd.unique(table[by]))
    methods = list(pd.unique(table["method"]))
    width = 0.8 / max(len(methods), 1)
    colors = method_colors(methods)
    fig = Figure(figsize=(max(4.0, 1.2 * len(groups)) * len(metrics), 3.8), dpi=_DPI, layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        for i, method in enumerate(methods):
            part = table[table["method"] == method].set_index(by).reindex(groups)
            mean = part[metric].to_numpy(dtype=float)
            err = np.stack([mean - part[f"{metric}_ci_low"], part[f"{metric}_ci_high"] - mean]).astype(float)
            ax.bar(
                np.arange(len(groups)) + (i - (len(methods) - 1) / 2) * width,
                mean,
                width,
                yerr=err,
                capsize=2,
                label=method,
                color=colors[method],
            )
        ax.set_xticks(np.arange(len(groups)), [str(g) for g in groups])
        ax.set_ylabel(direction_label(metric, directions.get(metric, True)))
        ax.set_title(f"{metric} by {by} (95% CI)", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7)
    return _save(fig, out)


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


def pick_grid_samples(samples: pd.DataFrame, n: int = 4) -> list[str]:
    """Up to ``n`` sample ids that every method edited successfully, cycling through the styles.

    Within a style it takes the sample whose object was shown least so far (ties: sorted id), so the grid
    varies both style and object. Deterministic.
    """
    methods = samples["method"].nunique()
    ok = samples[samples["status"] == "ok"]
    counts = ok.groupby("sample_id")["method"].nunique()
    common = ok[ok["sample_id"].isin(counts[counts == methods].index)].drop_duplicates("sample_id")
    pools = {style: part.sort_values("sample_id") for style, part in common.groupby("style", sort=True)}
    shown: dict[str, int] = {}
    picked: list[str] = []
    while len(picked) < n and any(len(pool) for pool in pools.values()):
        for style, pool in pools.items():
            if len(pool) and len(picked) < n:
                choice = pool.loc[pool["object_name"].map(lambda o: shown.get(o, 0)).idxmin()]
                shown[choice["object_name"]] = shown.get(choice["object_name"], 0) + 1
                picked.append(choice["sample_id"])
                pools[style] = pool.drop(choice.name)
    return picked


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


def _save(fig: Figure, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
