"""Page weight budget: every page stays light enough to read on a slow connection.

- each page's HTML <= 512 KB (raw; typeset maths is most of it, and compresses ~10:1);
- the local images a page references <= 400 KB in total;
- no figure saved at print resolution: raster images are saved at <= 150 dpi and <= 1400 px
  wide (screen dpi; a wider-than-the-page PNG only costs bytes), or are SVG.

The measurement is tools/weight.py's ``page_weights``, which the benchmark reports too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SITE_ROOT
from pages import book_pages
from weight import MAX_HTML_BYTES, MAX_IMAGE_BYTES, MAX_IMAGE_DPI, MAX_IMAGE_WIDTH, page_weights

pytestmark = pytest.mark.book

PAGES = [p.docname for p in book_pages(SITE_ROOT)]


@pytest.fixture(scope="module")
def weights(built_book: Path) -> dict[str, dict]:
    return {w["page"]: w for w in page_weights(built_book, PAGES)}


def kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"


@pytest.mark.parametrize("docname", PAGES)
def test_html_within_budget(weights: dict[str, dict], docname: str) -> None:
    w = weights[docname]
    assert w["html_bytes"] <= MAX_HTML_BYTES, (
        f"{w['file']} is {kb(w['html_bytes'])} of HTML (budget {kb(MAX_HTML_BYTES)}): "
        "large text outputs? print less, or tag the cell remove-output")


@pytest.mark.parametrize("docname", PAGES)
def test_images_within_budget(weights: dict[str, dict], docname: str) -> None:
    w = weights[docname]
    assert not w["missing_images"], f"{w['file']} references missing images: {w['missing_images']}"
    sizes = ", ".join(f"{Path(i['path']).name} {kb(i['bytes'])}"
                      for i in sorted(w["images"], key=lambda i: -i["bytes"]))
    assert w["image_bytes"] <= MAX_IMAGE_BYTES, (
        f"{w['file']} loads {kb(w['image_bytes'])} of images (budget {kb(MAX_IMAGE_BYTES)}): {sizes}")


@pytest.mark.parametrize("docname", PAGES)
def test_figures_at_screen_resolution(weights: dict[str, dict], docname: str) -> None:
    w = weights[docname]
    bad = []
    for i in w["images"]:
        if i["format"] == "svg":
            continue
        name = Path(i["path"]).name
        if i["width"] is None:
            bad.append(f"{name}: unreadable image")
            continue
        if i["dpi"] is not None and i["dpi"] > MAX_IMAGE_DPI:
            bad.append(f"{name}: saved at {i['dpi']:.0f} dpi (> {MAX_IMAGE_DPI}; print resolution)")
        if i["width"] > MAX_IMAGE_WIDTH:
            bad.append(f"{name}: {i['width']}x{i['height']} px (wider than {MAX_IMAGE_WIDTH} px; "
                       "more than a screen shows)")
    assert not bad, (f"{w['file']}: figures saved for print, not screen "
                     "(use mlpbook.plot.use_book_style(): 100 dpi, or SVG):\n  " + "\n  ".join(bad))


def test_weight_tool_sees_print_dpi(tmp_path: Path) -> None:
    """The measurement itself: a 300-dpi PNG referenced by a page is counted and flagged."""
    from PIL import Image

    (tmp_path / "book").mkdir()
    Image.new("RGB", (1920, 960), "white").save(tmp_path / "book" / "fig.png", dpi=(300, 300))
    (tmp_path / "book" / "p.html").write_text(
        '<html><body><img src="fig.png" alt="x"><img src="fig.png" alt="again">'
        '<img src="https://example.org/x.png" alt="external"><img src="gone.png" alt="y"></body></html>')
    [w] = page_weights(tmp_path, ["book/p"])
    assert w["page"] == "book/p" and w["file"] == "book/p.html"
    assert [(i["width"], i["height"], i["dpi"]) for i in w["images"]] == [(1920, 960, 300.0)]
    assert w["image_bytes"] == (tmp_path / "book" / "fig.png").stat().st_size
    assert w["missing_images"] == ["gone.png"]
