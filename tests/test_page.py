"""The report page as a person sees it: rendered in headless Chromium, checked with JavaScript run in the page.

A copy of the page gets `tests/page_layout.js`, which after load writes into the DOM which table cells
overflow, which elements stick out of the viewport (outside scroll containers), which images did not load
and which embedded fonts failed; `chromium --headless --dump-dom` hands that back (no DevTools protocol, no
new dependency). Skipped when no Chromium is installed (`.ci/run` installs Debian's `chromium`).

Set NEUROPHYS_SCREENSHOTS=<folder> to keep full-page screenshots (one PNG per page and width) to look at.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from suite import registry
from suite.registry import Pair, Rule, Study, StudyResult
from suite.plots import style_figure, text_overlaps
from suite.report import cjk_font, compare, generate

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTHS = (1280, 820)  # a laptop window and a narrow one (the summary grid falls to one column)
SCRIPT = Path(__file__).with_name("page_layout.js")


def _browser() -> str | None:
    return os.environ.get("NEUROPHYS_CHROMIUM") or next(filter(None, map(shutil.which, CANDIDATES)), None)


needs_chromium = pytest.mark.skipif(
    _browser() is None,
    reason=f"no Chromium found (looked for {', '.join(CANDIDATES)} on PATH and $NEUROPHYS_CHROMIUM); "
           "install it (Debian: apt-get install chromium) to test the page as a browser renders it")


def _run_browser(page: Path, width: int, height: int, *extra: str) -> str:
    """Run headless Chromium on `page` (fresh profile, no sandbox: CI runs as root) and return stdout."""
    profile = page.parent / f".chromium-{page.stem}-{width}"
    cmd = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-extensions", f"--user-data-dir={profile}", f"--window-size={width},{height}",
           "--virtual-time-budget=20000", *extra, page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def layout(page: Path, width: int) -> dict:
    """What `page_layout.js` finds wrong on `page` in a `width`-pixel window (see its header)."""
    probe = page.with_name(f".probe-{width}-{page.name}")
    text = page.read_text(encoding="utf-8")
    assert "</body>" in text
    probe.write_text(text.replace("</body>", f"<script>{SCRIPT.read_text()}</script></body>"), encoding="utf-8")
    dom = _run_browser(probe, width, 900, "--dump-dom")
    found = re.search(r'<pre id="neurophys-layout">(.*?)</pre>', dom, re.S)
    assert found, "the layout script did not run (no result in the dumped DOM)"
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, width: int, height: int) -> Path | None:
    """A full-page screenshot into $NEUROPHYS_SCREENSHOTS (None when unset)."""
    folder = os.environ.get("NEUROPHYS_SCREENSHOTS")
    if not folder:
        return None
    png = Path(folder) / f"{page.parent.name}-{width}.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    _run_browser(page, width, min(height + 20, 60000), f"--screenshot={png}")
    return png


def assert_reads_well(page: Path, *, images: bool = True) -> None:
    text = page.read_text(encoding="utf-8")
    assert "Labels of this figure overlap" not in text, "a figure's labels overlap (see the page)"
    assert cjk_font.missing(text) == [], "Japanese characters the embedded font lacks: rebuild it (cjk_font)"
    for width in WIDTHS:
        found = layout(page, width)
        screenshot(page, width, found["height"])
        where = f"{page} at {width} px"
        assert found["pageWidth"] <= found["viewport"], f"{where}: the page scrolls sideways"
        assert found["cellOverflow"] == [], f"{where}: text overflows its table cell: {found['cellOverflow']}"
        assert found["outOfView"] == [], f"{where}: outside the viewport: {found['outOfView'][:10]}"
        assert (found["images"] > 0) == images and found["brokenImages"] == [], f"{where}: images not loaded"
        assert [f for f in found["fonts"] if not f.endswith(": loaded")] == [], f"{where}: fonts {found['fonts']}"
        if cjk_font.cjk_characters(text):
            assert f"{cjk_font.FAMILY}: loaded" in found["fonts"], f"{where}: the Japanese font did not load"
        if width == max(WIDTHS):
            assert found["scrollers"] == [], f"{where}: tables that scroll sideways: {found['scrollers']}"


# ------------------------------------------------------------------ a small report with what real pages hold

def _mirror(ctx):
    """A mirrored table like the research report's Tables 1 and 2: Japanese with its English gloss."""
    rows = [dict(operation="円形畳み込み (circular convolution)", form="F⁻¹(F(x) ⊙ F(y))",
                 report_issue="勾配スケーリング問題 (gradient scaling)", measured_rel_error=1.95e-07,
                 measured_time_exponent=1.0417, verdict="confirmed"),
            dict(operation="ホログラフィック線形 (holographic linear)", form="y = w ⊛ x + b",
                 report_issue="表現力の制限 (limited expressiveness)", measured_rel_error=None,
                 measured_time_exponent=2.0031, verdict="qualified")]
    return StudyResult(table=pd.DataFrame(rows), mirror=True, measures={"rows": 2})


def _wide(ctx):
    """An 18-column sweep with a log-log figure, as the stability and precision studies produce."""
    g = ctx.generator()
    radius = [0.5 * 2.0 ** k for k in range(12)]
    table = pd.DataFrame({"method": ["poincare_geoopt_float32"] * 12, "radius": radius,
                          **{f"error_float{b}_step_{i}": torch.rand(12, generator=g).mul(10.0 ** -i).tolist()
                             for b in (32, 64) for i in range(8)}})
    fig = Figure(figsize=(7, 3))
    for j, name in enumerate(("a", "b")):
        ax = fig.add_subplot(1, 2, j + 1)
        ax.loglog(radius, [r ** (j + 1) * 1e-7 for r in radius], marker="o", label=f"{name} float32 naive")
        ax.set_title(f"relative error vs radius, float32 implementation {name}")
        ax.set_xlabel("radius")
        ax.legend()
    return StudyResult(table=table, figure=fig, measures={"gain": 12.5},
                       notes=["a long note " * 30])


@pytest.fixture
def small_registry(monkeypatch):
    pairs = {"demo.scale": Pair(
        name="demo.scale", naive=lambda x: x * 2.0, fixed=lambda x: x + x, claim="H1", devices=("cpu",),
        make_inputs=lambda n, dev, dt, g: (torch.randn(n, generator=g, dtype=dt).to(dev),),
        sizes=(64, 256), quick_sizes=(32, 128), oracle=lambda x: 2 * x.double())}
    studies = {"demo.mirror": Study("demo.mirror", "Table 1 mirror", _mirror, claims=("H2",)),
               "demo.wide": Study("demo.wide", "A wide sweep with a figure", _wide,
                                  rules=(Rule("H3", "gain > 5", qualified="gain > 1"),))}
    for name, value in (("_PAIRS", pairs), ("_STUDIES", studies), ("_LOAD_ERRORS", {}), ("_loaded", True)):
        monkeypatch.setattr(registry, name, value)


@needs_chromium
def test_report_and_compare_pages_read_well_in_chromium(small_registry, tmp_path):
    generate(tmp_path / "other", devices=["cpu"], quick=False, speed=False)
    data = json.loads((tmp_path / "other" / "results.json").read_text())
    data["claims"] = [{**c, "verdict": "refuted"} if c["claim"] == "H3" else c for c in data["claims"]]
    (tmp_path / "other" / "results.json").write_text(json.dumps(data))
    generate(tmp_path / "report", devices=["cpu"], quick=True, baseline=tmp_path / "other")
    assert "Compared with the baseline report" in (tmp_path / "report" / "index.html").read_text()
    assert_reads_well(tmp_path / "report" / "index.html")
    compare([tmp_path / "report", tmp_path / "other"], tmp_path / "compare")
    page = (tmp_path / "compare" / "index.html").read_text()
    assert "Quick and full reports are mixed" in page
    assert_reads_well(tmp_path / "compare" / "index.html", images=False)


@needs_chromium
def test_layout_check_sees_what_a_reader_would(tmp_path):
    """The checks can fail: a nowrap cell in a fixed-width table, a wide block, a broken image, a font."""
    page = tmp_path / "bad" / "index.html"
    page.parent.mkdir()
    page.write_text(
        "<!DOCTYPE html><html><head><style>@font-face { font-family: gone; src: url(data:font/otf;base64,AAAA); }"
        "</style></head><body style='margin: 0; font-family: gone'>"
        "<table style='table-layout: fixed; width: 120px'><tr><td style='white-space: nowrap'>1.95e-07 "
        "1.95e-07 1.95e-07</td></tr></table><div style='width: 3000px'>too wide</div>"
        "<div class='scroll' style='overflow-x: auto'><div style='width: 3000px'>scrolls</div></div>"
        "<img alt='broken' src='data:image/png;base64,AAAA'></body></html>")
    found = layout(page, 800)
    assert len(found["cellOverflow"]) == 1 and "1.95e-07" in found["cellOverflow"][0]
    assert found["pageWidth"] > 800 and [w for w in found["outOfView"] if "too wide" in w]
    assert not [w for w in found["outOfView"] if "scrolls" in w] and len(found["scrollers"]) == 1
    assert found["images"] == 1 and len(found["brokenImages"]) == 1
    assert found["fonts"] == ["gone: error"]


def test_every_japanese_character_of_the_sources_is_in_the_embedded_font():
    chars = cjk_font.source_characters()
    assert len(chars) > 50, "the mirrored tables and checklist hold Japanese text"
    assert cjk_font.missing("".join(chars)) == [], "run `python -m suite.report.cjk_font <Noto Sans CJK>`"
    assert cjk_font.missing("円形畳み込み 龘") == ["龘"]  # a character no source uses


def _labels(ax, which):
    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = sorted(axis.get_view_interval())
    ticks = [*axis.get_major_ticks(), *axis.get_minor_ticks()]
    return [t.label1.get_text() for t in ticks if lo <= t.get_loc() <= hi and t.label1.get_text()]


def test_style_figure_keeps_numbers_on_short_log_axes_and_untangles_labels():
    fig = Figure(figsize=(7, 3))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.loglog([32, 128], [0.0052, 0.0083], marker="o", label="fixed (cpu)")  # less than a decade each way
    left.legend()
    left.set_title("relative error vs radius, float32 implementation a, long enough to collide")
    right.set_title("relative error vs radius, float32 implementation b, long enough to collide")
    names = ["GM-VAE closed-form KL", "GM-VAE Monte Carlo KL", "Euclidean VAE", "wrapped normal MC KL"]
    right.bar(names, [1, 2, 3, 4])
    before = text_overlaps(fig)
    assert before, "the unstyled figure has colliding titles and tick labels"
    style_figure(fig)
    assert text_overlaps(fig) == []
    assert len(_labels(left, "x")) >= 2 and len(_labels(left, "y")) >= 2, "a log axis without numbers"
    assert "\n" in left.get_title() and "\n" in right.get_title()
    shown = [t.get_text() for t in right.get_xticklabels()]
    assert [s.split() for s in shown] == [s.split() for s in names], "labels wrapped between words only"
    assert right.get_xticklabels()[0].get_rotation() == 90 or all(len(line) <= 12 for s in shown
                                                                  for line in s.split("\n"))


def test_short_symlog_axis_gets_numbers_over_most_of_its_range():
    fig = Figure(figsize=(5, 3))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(range(60), [180 - 1.5 * i for i in range(60)])  # a loss from 180 down to 91.5: under one decade
    ax.set_yscale("symlog")
    style_figure(fig)
    values = sorted(float(s) for s in _labels(ax, "y") if "mathdefault" not in s)
    assert len(values) >= 2 and values[-1] / values[0] > 1.3, values
    assert text_overlaps(fig) == []


def test_sweep_values_are_shortened_for_the_methods_table():
    from suite.report.tables import sweep_value

    assert sweep_value({"leaf T=0.1": object(), "height T=1": object()}) == "2 settings (leaf T=0.1, height T=1)"
    assert sweep_value((16, 64, 256)) == "(16, 64, 256)"
    long = sweep_value(tuple(range(100)))
    assert len(long) == 60 and long.endswith("\u2026") and long.startswith("(0, 1, 2")
