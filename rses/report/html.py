"""One static, self-contained HTML report: sortable tables, the plots, and best/worst sample rows.

Everything is inline (CSS, a small sorting script, images as base64 ``data:`` URIs), so the single file
opens offline, from any directory, and can be attached or archived as is. Sample images are shrunk to
thumbnails (:data:`THUMB_PX` on the long side) to keep the page small.

Example (run directories written by ``rses eval``)::

    write_report(["runs/identity-test", "runs/paste-style-test"], "report.html")
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import pandas as pd
from PIL import Image

import rses
from rses.pixels import load_image, load_mask
from rses.report import assemble
from rses.report.breakdown import DEFAULT_SIZE_BINS, SizeBins
from rses.report.plots import color_hex, left_out_note, method_colors
from rses.report.runs import source_lookup

THUMB_PX = 160

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{white-space:normal;vertical-align:bottom;min-width:4em}
.scroll{overflow-x:auto}
th:first-child,td:first-child{text-align:left}
table.sortable th{cursor:pointer;background:#f4f4f4;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
.ci{display:block;color:#888;font-size:11px}.note{color:#555}.warn{color:#a40}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
figure{margin:8px 0}figcaption{color:#555;font-size:13px}
img.plot{max-width:100%;border:1px solid #eee}.samples td{vertical-align:middle}
.samples td.images{white-space:nowrap}.samples img{height:72px;margin-right:2px;image-rendering:pixelated}
.samples .sub{display:block;color:#888;font-size:11px}
"""

# Click a header to sort by it; click again to reverse. Cells sort by data-v (numbers) or their text.
_SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var cell = row.cells[col], v = cell.getAttribute('data-v');
        return v !== null && v !== '' && !isNaN(v) ? parseFloat(v) : cell.textContent.trim();
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def arrow(higher_is_better: bool) -> str:
    """``↑`` for higher-is-better metrics, ``↓`` otherwise."""
    return "↑" if higher_is_better else "↓"


def data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def thumbnail_uri(image: np.ndarray, max_px: int = THUMB_PX) -> str:
    """A PNG data URI of ``image`` (uint8 RGB, or bool mask) shrunk to at most ``max_px`` on its long side."""
    pil = Image.fromarray(image.astype(np.uint8) * 255 if image.dtype == bool else image)
    pil.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return data_uri(buffer.getvalue())


def sortable_table(
    table: pd.DataFrame,
    directions: Mapping[str, bool],
    digits: int = 4,
    colors: Mapping[str, str] | None = None,
) -> str:
    """An HTML ``<table class="sortable">``: metric columns show the mean with its CI below, sort by the mean.

    Columns ``<m>_ci_low``/``<m>_ci_high`` are folded into the ``<m>`` cell; headers of metrics carry the
    direction arrow. ``colors`` (``{method: "#rrggbb"}``) puts each method's plot colour before its name.
    """
    metrics = [m for m in directions if m in table.columns]
    folded = {f"{m}_ci_low" for m in metrics} | {f"{m}_ci_high" for m in metrics}
    columns = [c for c in table.columns if c not in folded]
    head = "".join(
        f"<th data-col='{escape(c)}'>{escape(c)} {arrow(directions[c])}</th>"
        if c in metrics
        else f"<th data-col='{escape(c)}'>{escape(c.replace('_', ' '))}</th>"
        for c in columns
    )
    body = []
    for _, row in table.iterrows():
        cells = []
        for c in columns:
            value = row[c]
            if c in metrics:
                if pd.isna(value):
                    cells.append("<td data-v=''>–</td>")
                    continue
                ci = (
                    f"<span class=ci>[{row[f'{c}_ci_low']:.{digits}f}, {row[f'{c}_ci_high']:.{digits}f}]</span>"
                    if f"{c}_ci_low" in row and pd.notna(row[f"{c}_ci_low"])
                    else ""
                )
                cells.append(f"<td data-v='{value:.10g}'>{value:.{digits}f}{ci}</td>")
            elif c == "method" and colors and value in colors:
                swatch = f"<span class=swatch style='background:{colors[value]}'></span>"
                cells.append(f"<td>{swatch}{escape(str(value))}</td>")
            elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                cells.append(f"<td data-v='{value:.10g}'>{escape(str(value))}</td>")
            else:
                cells.append(f"<td>{escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<div class=scroll><table class=sortable><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def figure(name: str, image_html: str, drawn: Sequence[str], left_out: Mapping[str, Sequence[str]]) -> str:
    """A plot in a ``<figure>`` that records which runs it draws (``data-drawn``) and which it leaves out
    (``data-left-out``, also said in the caption), both as ``|``-separated labels.
    """
    caption = left_out_note(left_out)
    return (
        f"<figure data-plot='{escape(name)}' data-drawn='{escape('|'.join(drawn))}' "
        f"data-left-out='{escape('|'.join(left_out))}'>{image_html}"
        + (f"<figcaption>{escape(caption)}.</figcaption>" if caption else "")
        + "</figure>"
    )


def table_page(table_html: str, title: str, note: str = "") -> str:
    """A standalone, styled HTML page around one table (``rses leaderboard --format html``)."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>"
        + (f"<p class=note>{escape(note)}</p>" if note else "")
        + f"<div class=scroll>{table_html}</div></body></html>\n"
    )


def sample_rows(
    rows: pd.DataFrame,
    sources: Mapping[str, tuple[Path, Path]],
    metrics: Sequence[str],
    directions: Mapping[str, bool],
    colors: Mapping[str, str] | None = None,
) -> str:
    """The best/worst samples table: method, rank, sample (with style and size), metrics, combined score and
    the source | mask | output thumbnails, narrow enough to fit a 1280 px window.
    """
    head = [
        "method",
        "rank",
        "sample",
        *(f"{m} {arrow(directions[m])}" for m in metrics),
        "combined ↑",
        "source | mask | output",
    ]
    body = []
    for _, row in rows.iterrows():
        source, mask = sources[row["sample_id"]]
        images = "".join(
            f"<img alt='{escape(alt)} {escape(row['sample_id'])}' src='{thumbnail_uri(img)}'>"
            for alt, img in (
                ("source", load_image(source)),
                ("mask", load_mask(mask)),
                ("output", load_image(row["output_path"])),
            )
        )
        method = escape(str(row["method"]))
        if colors and row["method"] in colors:
            method = f"<span class=swatch style='background:{colors[row['method']]}'></span>{method}"
        sample = (
            f"{escape(str(row['sample_id']))}<span class=sub>{escape(str(row['style']))}, "
            f"{escape(str(row['size']))}</span>"
        )
        tds = f"<td>{method}</td><td>{escape(str(row['rank']))}</td><td>{sample}</td>"
        tds += "".join(f"<td data-v='{row[m]:.10g}'>{row[m]:.4f}</td>" for m in [*metrics, "combined"])
        body.append(f"<tr>{tds}<td class=images>{images}</td></tr>")
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    return (
        f"<table class='sortable samples'><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def leaderboard_sections(
    table: pd.DataFrame, directions: Mapping[str, bool], colors: Mapping[str, str] | None = None
) -> list[str]:
    """The ranked runs' table, then (when there are any) a labelled "Not ranked" table with the reasons."""
    ranked = table["ranked"].astype(bool)
    parts = [
        sortable_table(
            table[ranked].drop(columns=["ranked", "not_ranked_because"]), directions, colors=colors
        )
    ]
    if not ranked.all():
        parts += [
            "<h3>Not ranked</h3><p class=warn>Smoke, incomplete, subset, unchecked-weight or other-split runs: "
            "not comparable with the ranked runs above (see <i>not ranked because</i>).</p>",
            sortable_table(table[~ranked].drop(columns="ranked"), directions, colors=colors),
        ]
    return parts


def render_page(
    data: assemble.ReportData,
    plots: Mapping[str, Path],
    extremes: pd.DataFrame,
    sources: Mapping[str, tuple[Path, Path]],
    title: str = "rses report",
) -> str:
    """The whole page as one HTML string."""
    x, y = data.plotted
    backends = sorted({run.backend for run in data.runs})
    smoke = "smoke" in backends
    covered = assemble.coverage(data)
    labels = [run.label for run in data.runs]
    img = {
        name: figure(
            name,
            f"<img class=plot alt='{name}' src='{data_uri(Path(p).read_bytes())}'>",
            *covered.get(name, (labels, {})),
        )
        for name, p in plots.items()
    }
    colors = {m: color_hex(c) for m, c in method_colors(labels).items()}
    bins = data.size_bins
    parts = [
        f"<h1>{escape(title)}</h1>",
        f"<p class=note>rses {escape(rses.__version__)}, generated "
        f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}. Runs: "
        + ", ".join(f"<code>{escape(str(run.path))}</code>" for run in data.runs)
        + "</p>",
        f"<p class=note>Metric backend: {escape(', '.join(backends))}. <b>sees mask = yes</b> marks editors "
        "given the ground-truth mask (not comparable with mask-free editors on background metrics). "
        "Click a column header to sort.</p>",
        "<p class=warn>Smoke runs use tiny random-weight models: their numbers are not meaningful.</p>"
        if smoke
        else "",
        "<h2>Leaderboard</h2>",
        f"<p class=note>Sorted by {escape(_combined_column(data))} (second column; higher is better).</p>",
        *leaderboard_sections(
            data.leaderboard, {**_combined_direction(data), **data.directions}, colors=colors
        ),
        f"<h2>Trade-off: {escape(x)} vs {escape(y)}</h2>",
        img.get("tradeoff", ""),
        "<h2>By style</h2>",
        img.get("by-style", ""),
        sortable_table(data.by_style, data.directions),
        "<h2>By object size</h2>",
        f"<p class=note>Mask area as a fraction of the image: small &lt; {bins.small_below:g}, "
        f"medium [{bins.small_below:g}, {bins.large_from:g}), large &ge; {bins.large_from:g}.</p>",
        img.get("by-size", ""),
        sortable_table(data.by_size, data.directions),
    ]
    if "grid" in img:
        parts += ["<h2>Qualitative grid</h2>", img["grid"]]
    parts += [
        "<h2>Worst and best samples per method</h2>",
        f"<p class=note>Ranked by {escape(data.score_note)} (column <i>combined</i>, higher is better).</p>",
        sample_rows(extremes, sources, data.plotted, data.directions, colors),
    ]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(parts)}<script>{_SORT_JS}</script></body></html>"
    )


def _combined_column(data: assemble.ReportData) -> str:
    key = data.leaderboard.columns[1]
    return f"combined ({data.score_note}, mean per run)" if key == "combined" else key


def _combined_direction(data: assemble.ReportData) -> dict[str, bool]:
    return {"combined": True} if "combined" in data.leaderboard.columns else {}


def write_report(
    run_paths: Sequence[str | Path],
    out: str | Path,
    sources: Mapping[str, tuple[Path, Path]] | None = None,
    n_grid: int = 4,
    n_extremes: int = 2,
    size_bins: SizeBins = DEFAULT_SIZE_BINS,
    title: str = "rses report",
) -> Path:
    """Build the report of ``run_paths`` into the single HTML file ``out``; returns its path.

    Args:
        run_paths: run directories written by ``rses eval``.
        out: the HTML file to write.
        sources: ``{sample_id: (source, mask)}``; by default read from the runs' split manifests.
        n_grid: rows of the qualitative grid (0 leaves it out).
        n_extremes: worst and best samples shown per method.
        size_bins: object-size thresholds of the size breakdown.
        title: page title.
    """
    data = assemble.collect(run_paths, size_bins)
    sources = sources if sources is not None else source_lookup(data.runs)
    with TemporaryDirectory(prefix="rses-report-") as tmp:
        plots = assemble.write_plots(data, tmp, sources, n_grid)
        page = render_page(data, plots, assemble.extremes(data, n_extremes), sources, title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
