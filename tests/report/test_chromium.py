"""The report in a real headless Chromium (Debian's ``chromium`` package; CI installs it), at 1280 and 1920 px.

The test loads a copy of the page with a probe script appended: on ``load`` it measures the rendered page and
writes the result as JSON into ``<pre id=rses-check>``; ``--dump-dom`` prints the DOM after load. It asserts
on what a reader sees: the combined-score column is inside the window, no two pieces of text overlap, every
run is on every plot or named under it as left out, every image decodes. A second run takes a screenshot.
"""

import json
import re
import shutil
import subprocess

import pytest

from rses.report.html import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)"
)

PROBE = """<script>window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var lead = document.querySelector('table.sortable');
  var combined = lead.querySelectorAll('th')[1].getBoundingClientRect();
  var labels = Array.prototype.map.call(lead.tBodies[0].rows, function (r) { return r.cells[0].textContent; });
  // every rendered line box of every text node
  var boxes = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    var node = walker.currentNode;
    if (!node.textContent.trim() || node.parentElement.closest('script,pre')) continue;
    var range = document.createRange(); range.selectNodeContents(node);
    Array.prototype.forEach.call(range.getClientRects(), function (r) {
      if (r.width > 0 && r.height > 0) boxes.push({t: node.textContent.trim().slice(0, 30),
        l: r.left + scrollX, r: r.right + scrollX, top: r.top + scrollY, b: r.bottom + scrollY});
    });
  }
  var overlaps = [];
  for (var i = 0; i < boxes.length; i++) for (var j = i + 1; j < boxes.length; j++) {
    var a = boxes[i], b = boxes[j];
    if (Math.min(a.r, b.r) - Math.max(a.l, b.l) > 1 && Math.min(a.b, b.b) - Math.max(a.top, b.top) > 1)
      overlaps.push([a.t, b.t]);
  }
  var figures = Array.prototype.map.call(document.querySelectorAll('figure'), function (f) {
    var caption = f.querySelector('figcaption');
    return {plot: f.dataset.plot, drawn: f.dataset.drawn.split('|').filter(Boolean),
            left_out: f.dataset.leftOut.split('|').filter(Boolean), caption: caption ? caption.textContent : ''};
  });
  lead.querySelectorAll('th')[0].click();  // sort the leaderboard by method
  document.getElementById('rses-check').textContent = JSON.stringify({
    width: window.innerWidth,
    combined_header: lead.querySelectorAll('th')[1].textContent,
    combined_left: combined.left, combined_right: combined.right,
    labels: labels, figures: figures, overlaps: overlaps.slice(0, 10), n_text_boxes: boxes.length,
    first_after_sort: lead.tBodies[0].rows[0].cells[0].textContent,
    images: imgs.length,
    broken: imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).length,
    cut: imgs.filter(function (i) { return i.getBoundingClientRect().right > window.innerWidth + 0.5; })
      .map(function (i) { return i.alt; })
  });
});</script><pre id=rses-check></pre></body>"""


def chromium(*args, tmp_path):
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def mixed_runs(synthetic_runs, pixel_only_run):
    """The four synthetic runs plus one scored with mse_bg alone (so it cannot be on the rsm/lpips plots)."""
    return [*synthetic_runs, pixel_only_run]


@pytest.mark.parametrize("width", [1280, 1920])
def test_report_reads_well_in_chromium(mixed_runs, tmp_path, width):
    page = write_report(mixed_runs, tmp_path / "report.html", n_grid=2, n_extremes=1)
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8")

    dom = chromium(f"--window-size={width},1000", "--dump-dom", probed.as_uri(), tmp_path=tmp_path).stdout
    check = json.loads(re.search(r'<pre id="rses-check">(.*?)</pre>', dom, flags=re.S).group(1))
    assert check["width"] == width
    # the combined score, the column the leaderboard is sorted by, is on screen without scrolling sideways
    assert check["combined_header"].startswith("combined")
    assert 0 <= check["combined_left"] and check["combined_right"] <= width
    # no two pieces of text overlap anywhere on the page
    assert check["n_text_boxes"] > 100 and check["overlaps"] == []
    # every run is on every plot, or the plot names it as left out
    runs = sorted(check["labels"])
    assert runs == sorted(["identity", "global-style", "paste-style", "weak", "pixel-only"])
    assert {f["plot"] for f in check["figures"]} == {"tradeoff", "by-style", "by-size", "grid"}
    for figure in check["figures"]:
        assert sorted(figure["drawn"] + figure["left_out"]) == runs, figure["plot"]
        for label in figure["left_out"]:
            assert label in figure["caption"]
    assert next(f for f in check["figures"] if f["plot"] == "tradeoff")["left_out"] == ["pixel-only"]
    assert check["first_after_sort"].strip() == "global-style"
    assert check["broken"] == 0 and check["images"] == 4 + 5 * 2 * 3
    assert check["cut"] == []  # every thumbnail and plot is inside the window

    shot = tmp_path / "report.png"
    chromium(f"--window-size={width},2400", f"--screenshot={shot}", page.as_uri(), tmp_path=tmp_path)
    assert shot.stat().st_size > 10_000
