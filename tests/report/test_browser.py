"""The report in headless Chromium: every image decodes, and the page requests nothing.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped when it is absent.
A probe script is injected into a copy of the report: after ``load`` it lists images that did
not decode (``naturalWidth == 0``) and every resource the page fetched
(``performance.getEntriesByType("resource")``; data: URIs are not fetched). DNS is mapped to
nothing (``--host-resolver-rules``) so the test never reaches the network itself. A negative
control (a broken image and an http image) checks that the probe does detect both.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from report.test_report import build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not installed (apt-get install -y chromium); the browser check of the "
    "report is skipped",
)
ROOT = Path(__file__).resolve().parents[2]

PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var out = {
    n_images: imgs.length,
    broken: imgs.filter(function (i) {
      return !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0);
    }).map(function (i) { return i.alt; }),
    resources: performance.getEntriesByType('resource').map(function (e) { return e.name; })
  };
  var pre = document.createElement('pre');
  pre.id = 'cbec-probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _flags(tmp: Path) -> list[str]:
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp / 'chromium-profile'}",
    ]


def probe(page: str, tmp: Path) -> dict:
    f = tmp / "probe.html"
    f.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    res = subprocess.run(
        [*_flags(tmp), "--virtual-time-budget=5000", "--dump-dom", f.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    m = re.search(r'<pre id="cbec-probe">(.*?)</pre>', res.stdout, re.S)
    assert m, f"probe did not run (rc {res.returncode}): {res.stderr[-500:]}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def test_report_images_decode_and_nothing_is_requested(tmp_path):
    page = build()
    out = probe(page, tmp_path)
    assert out["n_images"] == 2
    assert out["broken"] == []
    assert out["resources"] == []


def test_probe_detects_broken_images_and_requests(tmp_path):
    page = build().replace(
        "<main>",
        '<main><img alt="bad" src="data:image/png;base64,AAAA">'
        '<img alt="net" src="http://example.invalid/x.png">',
    )
    out = probe(page, tmp_path)
    assert sorted(out["broken"]) == ["bad", "net"]
    assert out["resources"] == ["http://example.invalid/x.png"]


def test_screenshot_renders(tmp_path):
    f = tmp_path / "report.html"
    f.write_text(build(), encoding="utf-8")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*_flags(tmp_path), "--window-size=1200,1600", f"--screenshot={shot}", f.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


@pytest.mark.slow
def test_workflow_report(tiny_run, tmp_path):
    """The report of the session's tiny workflow run: images decode, nothing is fetched."""
    page = (tiny_run / "results" / "report.html").read_text(encoding="utf-8")
    out = probe(page, tmp_path)
    assert out["broken"] == [] and out["resources"] == [] and out["n_images"] >= 5


# ------------------------------------------------------------------ A4 print width
A4_PX = 700  # A4's 210 mm less 12 mm margins on each side, at 96 px per inch (CSS px)
WIDTH_PROBE = """<script>
window.addEventListener('load', function () {
  var page = document.documentElement.clientWidth, bad = [];
  Array.prototype.forEach.call(document.querySelectorAll('body *'), function (el) {
    var r = el.getBoundingClientRect(), s = getComputedStyle(el);
    var name = el.tagName + (el.id ? '#' + el.id : '');
    if (r.width > 0 && r.right > page + 1) bad.push(name + ' ends at ' + Math.round(r.right));
    if (s.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1)
      bad.push(name + ' cuts ' + (el.scrollWidth - el.clientWidth) + ' px');
  });
  var pre = document.createElement('pre');
  pre.id = 'cbec-width';
  pre.textContent = JSON.stringify({page: page, bad: bad.slice(0, 20)});
  document.body.appendChild(pre);
});
</script>"""


def width_probe(page: str, tmp: Path, width: int = A4_PX) -> dict:
    f = tmp / "width.html"
    f.write_text(page.replace("</body>", WIDTH_PROBE + "</body>"), encoding="utf-8")
    res = subprocess.run(
        [*_flags(tmp), f"--window-size={width},1100", "--virtual-time-budget=5000", "--dump-dom",
         f.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    m = re.search(r'<pre id="cbec-width">(.*?)</pre>', res.stdout, re.S)
    assert m, f"probe did not run (rc {res.returncode}): {res.stderr[-500:]}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def _wide_attrition() -> pl.DataFrame:
    rows = [
        {"stage": "clean_asif", "year": y, "step": k, "reason": why, "rows": 123456 + k}
        for y in range(2001, 2016)
        for k, why in enumerate(["read", "missing key variable", "fewer than 8 employees"])
    ]
    return pl.DataFrame(rows)


def test_report_fits_an_a4_page(tmp_path):
    """At the width of an A4 page nothing is wider than the page or cut: the fifteen-year
    attrition log, the regression tables, the figures."""
    page = build(attrition={"attrition_asif.csv": _wide_attrition()})
    out = width_probe(page, tmp_path)
    assert out["page"] <= A4_PX and out["bad"] == [], out


def test_width_probe_detects_overflow(tmp_path):
    page = build().replace("<main>", '<main><div id="wide" style="width:2000px">x</div>')
    assert any(b.startswith("DIV#wide") for b in width_probe(page, tmp_path)["bad"])


@pytest.mark.slow
def test_workflow_report_fits_an_a4_page(tiny_run, tmp_path):
    """The report of the session's tiny workflow run fits an A4 page."""
    page = (tiny_run / "results" / "report.html").read_text(encoding="utf-8")
    assert width_probe(page, tmp_path)["bad"] == []
