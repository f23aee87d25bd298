"""Stylesheets that stand together on the same pages travel as one file (issue 30,
``tools/sphinxext/lean_pages/bundle_css.py``), on a synthetic site: no build, no browser."""

from __future__ import annotations

import posixpath
import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools" / "sphinxext" / "lean_pages"))
import bundle_css  # noqa: E402

CSS = {"_static/a.css": "a{background:url(img.png)}", "_static/sub/b.css": '@charset "utf-8";\n'
       "@font-face{src:url('../f.woff') format('woff'),url(data:font/woff;base64,AA==)}",
       "_static/opt.css": ".opt{color:red}",
       # quoted data: URLs (Bootstrap's), spaces, a capital scheme: not relative
       "_static/sub/q.css": '.q{background:url("data:image/svg+xml;charset=utf-8,%3Csvg/%3E")}'
                            ".r{background:url( 'DATA:x' )}.s{background:url( \"../s.png\" )}", "_static/c.css": ".c{background:url(#x)}"}
# page -> the stylesheets its head links, in order
PAGES = {"p1.html": ["a", "sub/b", "sub/q", "opt", "c"], "p2.html": ["a", "sub/b", "sub/q", "c"],
         "book/p3.html": ["a", "sub/b", "sub/q", "opt", "c"], "book/p4.html": ["c"]}


def _site(root: Path) -> Path:
    for path, text in CSS.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    for page, sheets in PAGES.items():
        up = "../" * page.count("/")
        links = "".join(f'<link rel="stylesheet" type="text/css" href="{up}_static/{s}.css?v=1" />\n'
                        for s in sheets)
        (root / page).parent.mkdir(parents=True, exist_ok=True)
        (root / page).write_text(f"<html><head>\n{links}<script></script></head>"
                                 f'<body><link rel="stylesheet" href="{up}_static/c.css"></body></html>')
    return root


def _linked(site: Path, page: str) -> list[str]:
    head = (site / page).read_text().split("</head>")[0]
    return [posixpath.normpath(posixpath.join(posixpath.dirname(page), h.split("?")[0]))
            for h in re.findall(r'rel="stylesheet"[^>]*href="([^"]+)"', head)]


def _cascade(site: Path, page: str) -> list[str]:
    return [m for path in _linked(site, page) for m in bundle_css.members(site, path)]


def test_bundles_keep_each_page_s_cascade(tmp_path: Path) -> None:
    site = _site(tmp_path)
    before = {page: _linked(site, page) for page in PAGES}
    assert bundle_css.bundle_site(site) == 3  # p4 links c alone
    for page in PAGES:
        assert _cascade(site, page) == before[page], page  # same files, same order
    # a and b stand together on every page that has them: one file; c and opt stay their own
    assert len(_linked(site, "p1.html")) == 3 and _linked(site, "p2.html")[1:] == ["_static/c.css"]
    assert _linked(site, "p1.html")[0] == _linked(site, "book/p3.html")[0]  # one bundle, cached
    assert "?v=1" in (site / "p1.html").read_text()  # a plain link is kept as it was
    assert '<body><link rel="stylesheet" href="_static/c.css">' in (site / "p1.html").read_text()


def test_bundled_urls_name_the_same_files(tmp_path: Path) -> None:
    site = _site(tmp_path)
    bundle_css.bundle_site(site)
    path = _linked(site, "p1.html")[0]
    text = (site / path).read_text()
    assert text.count("@charset") == 1 and text.startswith("@charset")
    folder = posixpath.dirname(path)
    urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", text)
    relative = [u for u in urls if not u.lower().startswith(("data:", "#"))]
    assert sorted(posixpath.normpath(posixpath.join(folder, u.strip())) for u in relative) == [
        "_static/f.woff", "_static/img.png", "_static/s.png"]
    for kept in ("url(data:font/woff;base64,AA==)", 'url("data:image/svg+xml;charset=utf-8,',
                 "url( 'DATA:x' )"):
        assert kept in text, kept


def test_bundling_again_changes_nothing_until_a_stylesheet_changes(tmp_path: Path) -> None:
    """Idempotent; a changed member gives a new bundle on every page (also on pages the
    builder did not write again), and the old one is deleted."""
    site = _site(tmp_path)
    bundle_css.bundle_site(site)
    old = _linked(site, "p1.html")[0]
    assert bundle_css.bundle_site(site) == 0
    (site / "_static/a.css").write_text("a{color:blue}")
    assert bundle_css.bundle_site(site) == 3  # p4 links a.css alone
    new = _linked(site, "p1.html")[0]
    assert new != old and not (site / old).exists() and "color:blue" in (site / new).read_text()
    fresh = _site(tmp_path / "clean")
    (fresh / "_static/a.css").write_text("a{color:blue}")
    bundle_css.bundle_site(fresh)
    for page in PAGES:  # the same pages as a clean build's
        assert (site / page).read_text() == (fresh / page).read_text(), page


def test_a_bundle_gone_is_said(tmp_path: Path) -> None:
    site = _site(tmp_path)
    bundle_css.bundle_site(site)
    (site / _linked(site, "p1.html")[0]).unlink()
    with pytest.raises(bundle_css.MissingBundle, match="make clean book"):
        bundle_css.bundle_site(site)
