"""Page weight of the built site: what a reader downloads for each page of the book.

``page_weights(html_dir)`` measures every page of the TOC: the HTML itself, every local image it
references (with pixel size and saved dpi, to catch figures saved at print resolution) and the
local scripts and stylesheets it loads. The page-weight test enforces the budget on it and the
benchmark reports it.

Usage: python tools/weight.py [HTML_DIR]   (default: _build/html; prints a table)
"""

from __future__ import annotations

import struct
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pages import ROOT, book_pages  # noqa: E402

#: The budget the page-weight test enforces (bytes, pixels, dots per inch).
# Raw HTML: maths typeset at build time (KaTeX HTML + MathML, ~2 KB a formula) compresses ~10:1;
# what a reader downloads (gzip) is held by tests/test_page_speed.py (docs/performance.md).
MAX_HTML_BYTES = 512 * 1024
MAX_IMAGE_BYTES = 400 * 1024
MAX_IMAGE_DPI = 150
MAX_IMAGE_WIDTH = 1400


class _Refs(HTMLParser):
    """Collect the images, scripts and stylesheets an HTML page references."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        elif tag in ("object", "embed") and (a.get("data") or a.get("src")):
            self.images.append(a.get("data") or a["src"])
        elif tag == "script" and a.get("src"):
            self.assets.append(a["src"])
        elif tag == "link" and "stylesheet" in a.get("rel", "").split() and a.get("href"):
            self.assets.append(a["href"])


def _local(page_file: Path, html_dir: Path, ref: str) -> Path | None:
    """The file a relative URL of ``page_file`` points to, or None (external or data: URL)."""
    parts = urlsplit(ref)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    base = html_dir if parts.path.startswith("/") else page_file.parent
    return (base / unquote(parts.path.lstrip("/"))).resolve()


def image_info(path: Path) -> dict:
    """Size on disk, format, pixel size and saved dpi (PNG pHYs / JPEG density) of an image."""
    info: dict = {"path": str(path), "bytes": path.stat().st_size,
                  "format": path.suffix.lower().lstrip("."), "width": None, "height": None, "dpi": None}
    if info["format"] == "svg":
        return info  # vector: resolution-independent
    data = path.read_bytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        info["format"] = "png"
        info["width"], info["height"] = struct.unpack(">II", data[16:24])
        pos = 8
        while pos + 8 <= len(data):  # walk the chunks up to the image data for pHYs
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            if kind == b"pHYs":
                ppux, _, unit = struct.unpack(">IIB", data[pos + 8:pos + 17])
                if unit == 1:  # pixels per metre
                    info["dpi"] = round(ppux * 0.0254, 1)
                break
            if kind in (b"IDAT", b"IEND"):
                break
            pos += 12 + length
        return info
    try:  # JPEG, GIF, WebP...: let Pillow read the header
        from PIL import Image

        with Image.open(path) as im:
            info["format"] = (im.format or info["format"]).lower()
            info["width"], info["height"] = im.size
            dpi = im.info.get("dpi")
            if dpi:
                info["dpi"] = round(float(dpi[0]), 1)
    except Exception:  # an unreadable image is reported by its missing size
        pass
    return info


def page_weight(page_file: Path, html_dir: Path, docname: str | None = None) -> dict:
    """The weight of one built HTML page (see ``page_weights``)."""
    refs = _Refs()
    refs.feed(page_file.read_text(encoding="utf-8"))
    images, missing, seen = [], [], set()
    for ref in refs.images:
        path = _local(page_file, html_dir, ref)
        if path is None or path in seen:
            continue
        seen.add(path)
        if path.is_file():
            images.append({**image_info(path), "src": ref})
        else:
            missing.append(ref)
    assets = {p for p in (_local(page_file, html_dir, r) for r in refs.assets) if p and p.is_file()}
    return {
        "page": docname or str(page_file.relative_to(html_dir).with_suffix("")),
        "file": str(page_file.relative_to(html_dir)),
        "html_bytes": page_file.stat().st_size,
        "image_bytes": sum(i["bytes"] for i in images),
        "images": images,
        "missing_images": missing,
        "asset_bytes": sum(p.stat().st_size for p in assets),
    }


def page_weights(html_dir: Path, docnames: list[str] | None = None) -> list[dict]:
    """Measure every page of the book in ``html_dir`` (a built ``_build/html``), in TOC order.

    Each entry: ``page`` (the docname, e.g. ``book/mlp``), ``file`` (``book/mlp.html``),
    ``html_bytes``, ``image_bytes`` (local images the page references, each counted once),
    ``images`` (per image: ``src``, ``path``, ``bytes``, ``format``, ``width``, ``height`` in
    pixels and saved ``dpi``, None where unknown or vector),
    ``missing_images`` and ``asset_bytes`` (local scripts and stylesheets, not budgeted: they are
    shared by every page and cached).
    """
    html_dir = Path(html_dir).resolve()
    if docnames is None:
        repo = html_dir.parent.parent
        docnames = [p.docname for p in book_pages(repo if (repo / "_toc.yml").exists() else ROOT)]
    return [page_weight(html_dir / f"{d}.html", html_dir, d) for d in docnames]


def format_table(weights: list[dict]) -> str:
    """A Markdown table of page weights, in KB."""
    rows = ["| page | HTML KB | images | images KB | largest image (px, dpi) |",
            "|---|---:|---:|---:|---|"]
    for w in weights:
        big = max(w["images"], key=lambda i: i["bytes"], default=None)
        desc = (f"{big['width']}x{big['height']}, {big['dpi']}" if big and big["width"] else
                (big["format"] if big else "-"))
        rows.append(f"| {w['page']} | {w['html_bytes'] / 1024:.1f} | {len(w['images'])} | "
                    f"{w['image_bytes'] / 1024:.1f} | {desc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html"
    print(format_table(page_weights(target)))
