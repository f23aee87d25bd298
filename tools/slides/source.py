"""Slide sources (``slides/*.md``): parsing, and rendering each slide to HTML.

A source is YAML front matter (which block of the lesson plan the deck serves, and the page its
names refer to by default) and slides separated by lines ``---``. A slide is Markdown with:

- roles: {glue}`key:fmt` (a value the page glues, formatted as ``{glue:text}`` does; another
  page's: {glue}`mlp.md::key:fmt`), {eq}`label` (a labelled equation of the page, as the site
  renders it), ``$tex$`` and ``$$tex$$`` (inline and display maths, as a page of the site
  renders that same TeX; with MathJax, any TeX the site's MathJax typesets);
- directives (``:::{name} argument`` ... ``:::``): ``answer`` (revealed on the next click),
  ``figure fig-name`` (the page's figure, the same image file), ``code sec-label [n]
  [lines=a-b]`` (the n-th code block of that section, or its lines a to b), ``output sec-label
  [n]`` (its n-th printed output), ``cue T`` (speaker notes: the instructor timetable's cue at
  time T, or an instructor-page label) and ``notes`` (more speaker notes).

A name may say its page: ``motivation:fig-motivation-bumps``, ``mlp:sec-mlp-call``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml
from sitehtml import SlideError

DIRECTIVE = re.compile(r"^:::\{(\w+)\}[ \t]*(.*?)\n(.*?)^:::[ \t]*$", re.MULTILINE | re.DOTALL)
ROLE = re.compile(r"\{(glue|eq)\}`([^`]+)`")
DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
INLINE_MATH = re.compile(r"(?<![\\$\w])\$([^$\n]+?)\$(?!\w)")
KNOWN = {"answer", "figure", "code", "output", "cue", "notes"}


@dataclass
class Source:
    path: Path
    meta: dict
    slides: list[str]

    @property
    def name(self) -> str:
        return re.sub(r"^\d+-", "", self.path.stem)


def read_source(path: Path) -> Source:
    text = path.read_text(encoding="utf-8")
    found = re.match(r"^---\n(.*?)\n---\n", text, re.DOTALL)
    if not found:
        raise SlideError(f"{path}: no front matter (--- block: ... ---) at the top")
    meta = yaml.safe_load(found.group(1)) or {}
    for key in ("title", "session", "block", "page"):
        if key not in meta:
            raise SlideError(f"{path}: the front matter has no {key!r}")
    slides = [s.strip() for s in re.split(r"^---[ \t]*$", text[found.end():], flags=re.MULTILINE)]
    return Source(path, meta, [s for s in slides if s])


def split_name(name: str, page: str) -> tuple[str, str]:
    """``"mlp:sec-mlp-call"`` -> (``mlp``, ``sec-mlp-call``); a bare name is on ``page``."""
    if ":" in name:
        other, name = name.split(":", 1)
        return other.removesuffix(".md"), name
    return page, name


@dataclass
class Rendered:
    html: str
    notes: list[str] = field(default_factory=list)
    cues: list[str] = field(default_factory=list)
    prediction: bool = False


class Renderer:
    """Renders the slides of one source against the site, the glued values and the deck's
    assets (``image(path) -> url``)."""

    def __init__(self, source: Source, site, glue: Callable[[str], dict], image: Callable,
                 cue: Callable[[str], str]) -> None:
        from markdown_it import MarkdownIt

        self.source, self.site, self.glue, self.image, self.cue = source, site, glue, image, cue
        self.page = source.meta["page"]
        self.md = MarkdownIt("commonmark", {"html": True, "typographer": False}).enable("table")
        self.slots: list[str] = []

    def where(self, number: int) -> str:
        return f"{self.source.path.name}, slide {number}"

    def slot(self, html_text: str) -> str:
        self.slots.append(html_text)
        return f"@@SLOT{len(self.slots) - 1}@@"

    def role(self, match: re.Match) -> str:
        kind, content = match.groups()
        if kind == "eq":
            page, label = split_name(content, self.page)
            return self.slot(self.site.equation(page, label))
        page, rest = self.page, content
        if "::" in content:
            page, rest = content.split("::", 1)
            page = page.removesuffix(".md")
        key, _, spec = rest.partition(":")
        values = self.glue(page)
        if key not in values:
            raise SlideError(f"no glued value {key!r} on the page {page!r} (was it renamed?)")
        from colab_notebooks.glue import format_value

        value = html.escape(format_value(values[key], spec))
        return self.slot(f'<span class="glued">{value}</span>')

    def markdown(self, text: str) -> str:
        text = ROLE.sub(self.role, text)
        page = self.page
        text = DISPLAY_MATH.sub(lambda m: self.slot(self.site.maths(m.group(1), True, page)), text)
        text = INLINE_MATH.sub(lambda m: self.slot(self.site.maths(m.group(1), False, page)), text)
        out = self.md.render(text)
        out = re.sub(r"<p>(@@SLOT\d+@@)</p>", r"\1", out)  # a display equation alone
        return re.sub(r"@@SLOT(\d+)@@", lambda m: self.slots[int(m.group(1))], out)

    def directive(self, name: str, arg: str, body: str, out: Rendered) -> str:
        args = arg.split()
        if name == "answer":
            out.prediction = True
            return f'<div class="answer fragment">{self.markdown(body)}</div>'
        if name == "notes":
            out.notes.append(self.markdown(body))
            return ""
        if name == "cue":
            if len(args) != 1:
                raise SlideError("a cue names one time (1:24) or one instructor-page label")
            out.cues.append(args[0])
            extra = self.markdown(body) if body.strip() else ""
            out.notes.append(f'<div class="cue" data-cue="{html.escape(args[0])}">'
                             f"{self.cue(args[0])}{extra}</div>")
            return ""
        if not args:
            raise SlideError(f"the {name} directive needs a name")
        page, label = split_name(args[0], self.page)
        if name == "figure":
            path, alt = self.site.figure(page, label)
            caption = f"<figcaption>{self.markdown(body)}</figcaption>" if body.strip() else ""
            return (f'<figure class="slide-figure" data-page="{page}" data-figure="{label}">'
                    f'<img src="{self.image(path)}" alt="{html.escape(alt)}">{caption}</figure>')
        options = dict(a.split("=", 1) for a in args[1:] if "=" in a)
        numbers = [a for a in args[1:] if "=" not in a]
        index = int(numbers[0]) if numbers else 1
        if name == "code":
            lines = None
            if "lines" in options:
                first, _, last = options["lines"].partition("-")
                lines = (int(first), int(last or first))
            return f'<div class="slide-code">{self.site.code(page, label, index, lines)}</div>'
        text = self.site.output(page, label, index)
        return f'<pre class="slide-output">{html.escape(text.rstrip())}</pre>'

    def render(self, number: int, text: str) -> Rendered:
        out = Rendered("")
        parts, last = [], 0
        try:
            for match in DIRECTIVE.finditer(text):
                name, arg, body = match.groups()
                if name not in KNOWN:
                    raise SlideError(f"unknown directive {{{name}}} (known: {sorted(KNOWN)})")
                parts.append(self.markdown(text[last:match.start()]))
                parts.append(self.directive(name, arg.strip(), body, out))
                last = match.end()
            parts.append(self.markdown(text[last:]))
        except SlideError as exc:
            raise SlideError(f"{self.where(number)}: {exc}") from None
        if ":::" in "".join(re.sub(DIRECTIVE, "", text)):
            raise SlideError(f"{self.where(number)}: a ::: that opens or closes no directive")
        out.html = "".join(parts)
        return out
