"""The report in a real headless Chromium (Debian's ``chromium`` package; CI installs it).

The test loads a copy of the page with a probe script appended: on ``load`` it writes the number of table
rows, of images, and of images that failed to decode (``naturalWidth == 0``) into ``<pre id=rses-check>``;
``--dump-dom`` prints the DOM after load. A second run takes a screenshot.
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
  lead.querySelectorAll('th')[1].click();  // sort the leaderboard by "run"
  document.getElementById('rses-check').textContent = JSON.stringify({
    tables: document.querySelectorAll('table.sortable').length,
    leaderboard_rows: lead.tBodies[0].rows.length,
    first_after_sort: lead.tBodies[0].rows[0].cells[1].textContent,
    images: imgs.length,
    broken: imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).length
  });
});</script><pre id=rses-check></pre></body>"""


def _chromium(*args, tmp_path):
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
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=True)


def test_report_loads_in_chromium(synthetic_runs, tmp_path):
    page = write_report(synthetic_runs, tmp_path / "report.html", n_grid=2, n_extremes=1)
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8")

    dom = _chromium("--dump-dom", probed.as_uri(), tmp_path=tmp_path).stdout
    check = json.loads(re.search(r'<pre id="rses-check">(.*?)</pre>', dom, flags=re.S).group(1))
    assert check == {
        "tables": 4,
        "leaderboard_rows": 4,
        "first_after_sort": "global-style",
        "images": 4 + 4 * 2 * 3,
        "broken": 0,
    }

    shot = tmp_path / "report.png"
    _chromium(
        "--hide-scrollbars",
        "--window-size=1280,2400",
        f"--screenshot={shot}",
        page.as_uri(),
        tmp_path=tmp_path,
    )
    assert shot.stat().st_size > 10_000
