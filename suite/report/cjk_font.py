"""The Japanese glyphs the report needs, embedded in the page so it reads the same without a CJK font.

The research report's Tables 1 and 2 and its section 6.3 checklist are mirrored in its own words (Japanese,
with an English gloss). Where no CJK font is installed a browser draws them as boxes, so the page carries
`fonts/NotoSansCJKjp-report-subset.otf`: Noto Sans CJK JP (SIL Open Font License 1.1, `fonts/OFL.txt`)
cut down to the CJK characters of the suite's sources (a few hundred glyphs, tens of kB).

When a study's Japanese text changes, rebuild the subset from a full Noto Sans CJK font (Debian package
`fonts-noto-cjk`):

    python -m suite.report.cjk_font /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

`missing(text)` names the characters of `text` the subset lacks (tests/test_page.py checks the sources).
"""

from __future__ import annotations

import base64
import functools
import re
import sys
from pathlib import Path

FONT = Path(__file__).with_name("fonts") / "NotoSansCJKjp-report-subset.otf"
FAMILY = "neurophys Noto Sans CJK JP"
# CJK symbols and punctuation, kana, CJK ideographs (and extension A), full-width forms.
CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
_SOURCES = Path(__file__).resolve().parents[1]  # the `suite` package


def cjk_characters(text: str) -> set[str]:
    """The characters of `text` in the CJK ranges (`CJK`)."""
    return set(CJK.findall(text))


def source_characters(root: Path = _SOURCES) -> set[str]:
    """Every CJK character of the Python sources and templates under `root`: what a page can show."""
    files = [*root.rglob("*.py"), *root.rglob("*.html")]
    return set().union(*(cjk_characters(f.read_text(encoding="utf-8")) for f in files))


@functools.cache
def covered() -> frozenset[str]:
    """The characters the embedded subset has glyphs for (its cmap, read with fontTools)."""
    from fontTools.ttLib import TTFont

    with TTFont(FONT) as font:
        return frozenset(map(chr, font.getBestCmap()))


def missing(text: str) -> list[str]:
    """The CJK characters of `text` that the embedded subset lacks, sorted (a browser without a CJK font
    would draw them as boxes)."""
    return sorted(cjk_characters(text) - covered())


@functools.cache
def font_face_css() -> str:
    """An @font-face rule with the subset inline (base64), for the family `FAMILY`."""
    data = base64.b64encode(FONT.read_bytes()).decode("ascii")
    return (f'@font-face {{ font-family: "{FAMILY}"; font-style: normal; font-weight: 400; '
            f'src: url(data:font/otf;base64,{data}) format("opentype"); }}')


def build(source: Path, out: Path = FONT, chars: set[str] | None = None) -> Path:
    """Write the subset of `source` (a Noto Sans CJK .ttc/.otf; from a collection, its JP font) holding
    `chars` (default: `source_characters()`), without hinting or layout features beyond the defaults."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection, TTFont

    if source.suffix.lower() == ".ttc":
        fonts = TTCollection(source).fonts
        font = next(f for f in fonts if f["name"].getDebugName(1) == "Noto Sans CJK JP")
    else:
        font = TTFont(source)
    options = subset.Options()
    options.hinting = False
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # keep copyright and licence records
    sub = subset.Subsetter(options)
    sub.populate(unicodes=sorted(map(ord, chars if chars is not None else source_characters())))
    sub.subset(font)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(out)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m suite.report.cjk_font PATH/TO/NotoSansCJK-Regular.ttc")
    path = build(Path(sys.argv[1]))
    print(f"{path}: {len(source_characters())} characters, {path.stat().st_size} bytes")
