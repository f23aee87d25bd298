"""What a deck takes from the built site (``_build/html``): figures, equations, inline maths,
code, the maths assets a page loads, and the instructor's timetable cues.

Everything is looked up by name in the HTML the site serves, so a slide shows exactly what the
page shows (the same image file, the same rendered equation, the same highlighted code); a
name that no longer exists raises ``SlideError`` saying which one and where it was looked for.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag


class SlideError(Exception):
    """A slide refers to something the book no longer has (or a source is malformed)."""


def _tex_of(element: Tag) -> str:
    """The TeX source of a maths element: MathML's TeX annotation (maths rendered at build
    time) or the text between MathJax's delimiters."""
    annotation = element.find("annotation", attrs={"encoding": "application/x-tex"})
    if annotation is not None:
        text = annotation.get_text()
    else:
        text = "".join(s for s in element.find_all(string=True, recursive=True)
                       if not (s.parent and s.parent.get("class") and "eqno" in s.parent["class"]))
    text = text.strip()
    for left, right in (("\\(", "\\)"), ("\\[", "\\]"), ("$$", "$$"), ("$", "$")):
        if text.startswith(left) and text.endswith(right):
            text = text[len(left):len(text) - len(right)]
            break
    return normalise_tex(text)


def normalise_tex(tex: str) -> str:
    return re.sub(r"\s+", " ", tex).strip()


def _is_maths_asset(url: str) -> bool:
    return bool(re.search(r"math|katex", urlsplit(url).path, re.IGNORECASE))


class Site:
    """The built site at ``html``: pages by short name (``recap`` is ``book/recap.html``)."""

    def __init__(self, html: Path, book_dir: str = "book") -> None:
        self.html = html
        self.book_dir = book_dir
        if not (html / book_dir).is_dir():
            raise SlideError(f"no built site at {html}: run `make book` first")

    def path(self, page: str) -> Path:
        return self.html / self.book_dir / f"{page}.html"

    @functools.cache
    def soup(self, page: str) -> BeautifulSoup:
        path = self.path(page)
        if not path.is_file():
            raise SlideError(f"no page {page!r} in the built site (looked for {path})")
        return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")

    def pages(self) -> list[str]:
        return sorted(p.stem for p in (self.html / self.book_dir).glob("*.html"))

    def _section(self, page: str, label: str) -> Tag:
        """The section a label names (Sphinx puts a label's id on a span inside it)."""
        found = self.soup(page).find(id=label)
        if found is None:
            raise SlideError(f"no section {label!r} on the page {page!r}")
        return found if found.name == "section" else found.find_parent("section") or found

    def figure(self, page: str, name: str) -> tuple[Path, str]:
        """The image file of figure ``name`` on ``page`` (in ``_images/``) and its alt text."""
        figure = self.soup(page).find(id=name)
        img = figure.find("img") if figure is not None else None
        if img is None:
            raise SlideError(f"no figure {name!r} on the page {page!r} (the slide names it)")
        source = (self.path(page).parent / urlsplit(img["src"]).path).resolve()
        if not source.is_file():
            raise SlideError(f"figure {name!r} on {page!r}: its image {source} is missing")
        return source, img.get("alt", "")

    def equation(self, page: str, label: str) -> str:
        """The HTML of the labelled display equation, as the page renders it (no number)."""
        element = self.soup(page).find(id=f"equation-{label}") or self.soup(page).find(id=label)
        if element is None:
            raise SlideError(f"no equation {label!r} on the page {page!r}")
        return _unnumbered(element)

    @functools.cache
    def _maths(self) -> dict[tuple[bool, str], str]:
        """(display?, TeX) -> the first rendering of that formula on any page of the site."""
        found: dict[tuple[bool, str], str] = {}
        for page in self.pages():
            for element in self.soup(page).select(".math, .katex, .katex-display"):
                if element.find_parent(class_=["math", "katex", "katex-display"]) is None:
                    display = element.name == "div" or "katex-display" in element.get("class", [])
                    found.setdefault((display, _tex_of(element)), _unnumbered(element))
        return found

    def maths(self, tex: str, display: bool = False, page: str | None = None) -> str:
        """A formula as the site renders it: as a page of the site renders that TeX, or, where
        the site typesets maths in the browser (MathJax, loaded by ``page``), in the markup its
        pages give MathJax. A site that renders maths at build time shows only formulas that
        are on one of its pages."""
        html = self._maths().get((display, normalise_tex(tex)))
        if html is not None:
            return html
        if page is not None and self.typesets_in_browser(page):
            escaped = tex.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            if display:
                return f'<div class="math notranslate nohighlight">\\[{escaped}\\]</div>'
            return f'<span class="math notranslate nohighlight">\\({escaped}\\)</span>'
        kind = "display maths $$" if display else "inline maths $"
        raise SlideError(f"the {kind}{tex}{kind[-2 if display else -1:]} is on no page of the "
                         "site, which renders maths at build time: a slide shows only maths a "
                         "page renders (copy it from the page)")

    def typesets_in_browser(self, page: str) -> bool:
        """Whether ``page`` loads MathJax to typeset its maths."""
        return any("mathjax" in element.lower() and "<script" in element
                   and "src=" in element for element in self.maths_assets(page)[0])

    def code(self, page: str, label: str, index: int = 1,
             lines: tuple[int, int] | None = None) -> str:
        """The ``index``-th highlighted code block (1-based) of section ``label`` on ``page``,
        or its lines ``first..last`` (1-based, inclusive) only."""
        blocks = [b for b in self._section(page, label).select("div.highlight")
                  if b.find_parent(class_="cell_output") is None]  # code, not printed output
        if not 1 <= index <= len(blocks):
            raise SlideError(f"section {label!r} of {page!r} has {len(blocks)} code block(s), "
                             f"the slide asks for number {index}")
        if lines is None:
            return str(blocks[index - 1])
        block = BeautifulSoup(str(blocks[index - 1]), "html.parser")
        pre = block.find("pre")
        source = _code_lines(pre)
        first, last = lines
        if not 1 <= first <= last <= len(source):
            raise SlideError(f"code block {index} of {label!r} on {page!r} has {len(source)} "
                             f"lines, the slide asks for {first}-{last}")
        # parsed inside a <pre>: Beautiful Soup keeps whitespace-only strings there only
        pre.replace_with(BeautifulSoup("<pre>" + "\n".join(source[first - 1:last]) + "</pre>",
                                       "html.parser").pre)
        return str(block)

    def output(self, page: str, label: str, index: int = 1) -> str:
        """The text of the ``index``-th printed cell output of section ``label``."""
        outputs = self._section(page, label).select("div.cell_output div.output pre")
        if not 1 <= index <= len(outputs):
            raise SlideError(f"section {label!r} of {page!r} has {len(outputs)} printed "
                             f"output(s), the slide asks for number {index}")
        return outputs[index - 1].get_text()

    def maths_assets(self, page: str) -> tuple[list[str], list[Path]]:
        """What ``page`` loads to show its maths: the head's maths elements (inline
        configuration, scripts, stylesheets; URLs made relative to the site root) and the folders
        of the files they load (copied whole: MathJax loads its components and fonts itself)."""
        head = self.soup(page).head
        elements, folders = [], []
        base = self.path(page).parent
        for element in head.find_all(["script", "link"]):
            if element.name == "link" and "preload" in element.get("rel", []):
                continue  # a network hint (fonts with CORS), refused to a deck opened from file://
            url = element.get("src") or (element.get("href") if element.name == "link" else None)
            if url:
                if not _is_maths_asset(url):
                    continue
                if urlsplit(url).scheme or url.startswith("//"):
                    raise SlideError(f"the page {page!r} loads its maths renderer from {url}: a "
                                     "deck loads nothing from another host (no CDN)")
                target = (base / urlsplit(url).path).resolve()
                rel = target.relative_to(self.html.resolve())
                # a folder of its own (MathJax, KaTeX: they load fonts and components), or the file
                folders.append(rel.parent if rel.parent.name != "_static" else rel)
                attr = "src" if element.name == "script" else "href"
                copy = BeautifulSoup(str(element), "html.parser").find()
                copy[attr] = "@SITE@/" + rel.as_posix()
                elements.append(str(copy))
            elif element.name == "script" and re.search(r"MathJax|katex", element.get_text()):
                elements.append(str(element))
        return elements, sorted(set(folders))

    def cue(self, key: str, sessions: list[str], spans: list[tuple[int, int]]) -> str:
        """The timetable's cue for a slide, from the instructor page, as HTML.

        ``key`` is a time (``"1:24"``): the instructor's bullet that starts with it, or the
        subsection whose heading starts with it, within the deck's time; or a label of the
        instructor page (``sec-instructor-misconception``): that section's text."""
        from plan import minutes  # noqa: PLC0415

        if not re.fullmatch(r"\d+:\d\d", key):
            return _prose(self._section("instructor", key))
        if not any(start <= minutes(key) < end for start, end in spans):
            raise SlideError(f"cue {key} lies outside the deck's time")
        for session in sessions:
            top = self._section("instructor", f"sec-instructor-{session}")
            for item in top.select("section li"):
                if re.match(rf"{re.escape(key)}\b", item.get_text(" ", strip=True)):
                    return _inner(item)
            for heading in top.find_all("h3"):
                if heading.get_text(" ", strip=True).startswith(f"{key}–"):
                    return _prose(heading.find_parent("section"))
        raise SlideError(f"the instructor timetable has no cue at {key} ({'/'.join(sessions)})")


def _code_lines(pre: Tag) -> list[str]:
    """Highlighted code, one HTML string per line (a token spanning lines is split)."""
    import html

    lines: list[str] = [""]
    for text in pre.find_all(string=True):
        classes = text.parent.get("class") if text.parent is not pre else None
        for i, part in enumerate(str(text).split("\n")):
            if i:
                lines.append("")
            if part:
                escaped = html.escape(part, quote=False)
                lines[-1] += (f'<span class="{" ".join(classes)}">{escaped}</span>' if classes
                              else escaped)
    return lines[:-1] if lines[-1] == "" else lines


def _unnumbered(element: Tag) -> str:
    """A copy of a maths element without its equation number, link and id."""
    element = BeautifulSoup(str(element), "html.parser").find()
    for number in element.select(".eqno, .headerlink"):
        number.decompose()
    if element.has_attr("id"):
        del element["id"]
    return str(element)


def _inner(element: Tag) -> str:
    copy = BeautifulSoup(str(element), "html.parser").find()
    for link in copy.find_all("a"):
        link.unwrap()
    return "".join(str(c) for c in copy.contents)


def _prose(section: Tag) -> str:
    """A section's paragraphs and lists, without its headings and collapsed answers."""
    parts = [_inner(child) if child.name == "p" else str(child) for child in section.find_all(
        ["p", "ul", "ol"], recursive=False)]
    html = "".join(f"<p>{p}</p>" if not p.startswith(("<ul", "<ol")) else p for p in parts)
    copy = BeautifulSoup(html, "html.parser")
    for link in copy.find_all("a"):
        link.unwrap()
    return str(copy)
