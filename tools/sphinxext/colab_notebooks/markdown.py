"""MyST -> plain Markdown that Colab renders, with the site's links, numbers and glued values.

Nothing here needs Sphinx: what the site resolves (labels, numbers, titles, glued values, the
bibliography, the site's URL) comes in a :class:`References`, which the extension fills from
the Sphinx environment and the tests fill by hand.

- ``{ref}``/``{doc}`` become links to the published page and section (plain italics when the
  build has no site URL: never a dead link); ``{numref}``/``{eq}`` keep the site's numbers
  (Fig. 2.1, Exercise 3, (4.3)) and link to other pages; ``{cite}`` becomes author-year.
  A reference to something the site's edition removed (a solution's figure, in the student
  edition; only the instructor's notebook holds such text) has no number and no page to link
  to: it says where the thing is in the notebook ("the figure above").
- ``{glue:text}`` (and ``{glue}``, ``{glue:md}``) become the value, formatted as the site does;
  a glued figure (``{glue:figure}``, ``{glue}`` of a figure) becomes the figure itself, with the
  site's number and caption.
- Admonitions become quoted blocks, dropdowns and solutions ``<details>``; ``literalinclude`` the
  included source; ``{only} html`` blocks are dropped (``{only} notebook`` ones are kept).
- Wording about the site's own mechanics ("click the cell's output to reveal", "hidden cell")
  is adapted to a notebook.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .glue import GlueData, format_value
from .syntax import (ADMONITIONS, TITLED, DROPPED, CODE_BLOCKS, IMAGE_MIMES, NUMBERED_REFS, REMOVED_NOUNS, OPEN_FENCE, PLAIN_FENCE, OPTION, INLINE, TARGET, MATH_LABEL, MD_IMAGE, SITE_WORDING, _explicit, quote, details, only_applies, included_source)


@dataclass(frozen=True)
class Target:
    """Where a label points on the site, and what the site calls it."""

    docname: str
    anchor: str = ""  # the HTML id on the page ("" = the page itself)
    title: str = ""  # what a plain {ref} shows (section title, figure caption)
    number: str = ""  # the bare number, e.g. "4.1" ("" if not numbered)
    numfmt: str = "%s"  # e.g. "Fig. %s", "Exercise %s"
    kind: str = ""  # section, figure, exercise, displaymath, ...

    @property
    def numbered(self) -> str:
        return self.numfmt % self.number if self.number else ""


@dataclass
class References:
    """Everything the site resolves that a page's text refers to."""

    labels: dict[str, Target] = field(default_factory=dict)
    equations: dict[str, Target] = field(default_factory=dict)  # number "4.3" in .number
    titles: dict[str, str] = field(default_factory=dict)  # docname -> page title
    glue: dict[str, GlueData] = field(default_factory=dict)  # docname -> key -> mime bundle
    bib: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (authors, year)
    site: str = ""  # the published site's root URL ending in "/" ("" = no links)
    # labels the site's edition removed (inside solutions, in the student edition): not on
    # the site, so no number and no link; .kind is the node they named, .title its title
    removed: dict[str, Target] = field(default_factory=dict)

    def url(self, docname: str, anchor: str = "") -> str:
        if not self.site:
            return ""
        return f"{self.site}{docname}.html" + (f"#{anchor}" if anchor else "")


class MystToMarkdown:
    """Turn the MyST of one page's markdown cells into Markdown that Colab renders.

    ``raw_url`` maps a file of the book (path relative to the book's root) to a URL a notebook
    can load it from, or is None. What cannot be resolved is listed in ``problems``.
    """

    def __init__(self, refs: References, docname: str, book_root: Path,
                 raw_url: Callable[[str], str] | None = None):
        self.refs, self.docname = refs, docname
        self.book_root = book_root
        self.page_dir = (book_root / docname).parent
        self.raw_url = raw_url
        self.problems: list[str] = []
        self.shown: set[str] = set()  # labels of this page converted so far (above, not below)

    def problem(self, message: str, shown: str) -> str:
        self.problems.append(f"{self.docname}: {message}")
        return shown

    # -- where things are -----------------------------------------------------------------
    def docname_of(self, target: str) -> str:
        """A document path (relative to the page, or absolute from the book's root) -> docname."""
        target = re.sub(r"\.(md|ipynb|rst)$", "", target)
        doc = target[1:] if target.startswith("/") else str(PurePosixPath(self.docname).parent / target)
        return os.path.normpath(doc).replace(os.sep, "/")

    def image_url(self, src: str) -> str:
        if re.match(r"^[a-z][a-z0-9+.-]*:", src) or src.startswith("/") or self.raw_url is None:
            return src
        try:
            rel = (self.page_dir / src).resolve().relative_to(self.book_root.resolve()).as_posix()
        except ValueError:
            return src
        return self.raw_url(rel)

    def link(self, text: str, target: Target, *, always: bool = True) -> str:
        """``[text](published page#anchor)``; plain text when the target is on this page and
        ``always`` is False (numbered things the notebook itself shows), or without a site."""
        if not always and target.docname == self.docname:
            return text
        url = self.refs.url(target.docname, target.anchor)
        if not url:
            return text if not always else f"*{text}*"
        return f"[{text.replace('[', '(').replace(']', ')')}]({url})"

    # -- roles ----------------------------------------------------------------------------
    def glue_role(self, kind: str, content: str) -> str:
        doc, _, key = content.strip().rpartition("::")
        fmt = ""
        if kind == "text" and ":" in key:
            key, fmt = key.rsplit(":", 1)
        docname = self.docname_of(doc) if doc else self.docname
        bundle = self.refs.glue.get(docname, {}).get(key)
        if bundle is None:
            return self.problem(f"no glued value {key!r} in {docname} (was it executed?)", key)
        if kind == "md" and "text/markdown" in bundle:
            return bundle["text/markdown"]
        try:
            return format_value(bundle, fmt) if kind == "text" else bundle.get("text/plain", key)
        except (LookupError, ValueError, TypeError) as exc:
            return self.problem(f"glued value {key!r}: {exc}", key)

    def glue_image(self, content: str, alt: str = "") -> str | None:
        """A glued figure as a Markdown image holding the executed figure itself (a data URI:
        the notebook has no outputs, but what the site shows in its text, it shows too);
        None if the glued value is not an image."""
        doc, _, key = content.strip().rpartition("::")
        bundle = self.refs.glue.get(self.docname_of(doc) if doc else self.docname, {}).get(key)
        mime = next((m for m in IMAGE_MIMES if bundle and m in bundle), None)
        if mime is None:
            return None
        data = bundle[mime]
        if isinstance(data, list):
            data = "".join(data)
        if mime == "image/svg+xml":
            data = base64.b64encode(data.encode("utf-8")).decode("ascii")
        alt = " ".join((alt or "figure").replace("[", "(").replace("]", ")").split())
        return f"![{alt}](data:{mime};base64,{''.join(data.split())})"

    def role(self, m: re.Match) -> str:
        name, content = m["name"], m["content"]
        paren = m["paren"] or ""
        text, target = _explicit(content)
        base, _, kind = name.partition(":")
        if name == "eq":  # "({eq}`x`)" is "((4.3))" on the site; here once is enough
            t = self.refs.equations.get(target)
            if t is None:
                return self.problem(f"unknown equation {target!r}", f"({target})")
            return self.link(f"({t.number})", t, always=False)
        close = ")" if paren else ""
        if base == "glue":
            image = self.glue_image(content) if kind in ("", "any") else None
            return paren + (image or self.glue_role(kind, content)) + close
        if name == "math":
            return f"{paren}${content}${close}"
        if name in ("numref", "ref"):
            t = self.refs.labels.get(target)
            if t is None and target in self.refs.removed:
                return paren + self.removed_ref(text, self.refs.removed[target], target) + close
            if t is None:
                return paren + self.problem(f"unknown label {target!r}", text or target) + close
            if name == "numref" or (t.kind in NUMBERED_REFS and t.number and not text):
                if not t.number:
                    return paren + self.problem(f"{target!r} has no number", text or t.title) + close
                shown = (text.replace("{number}", t.number).replace("%s", t.number)
                         .replace("{name}", t.title) if text else t.numbered)
                return paren + self.link(shown, t, always=False) + close
            return paren + self.link(text or t.title or target, t) + close
        if name == "doc":
            docname = self.docname_of(target)
            title = text or self.refs.titles.get(docname)
            if title is None:
                return paren + self.problem(f"unknown document {target!r}", target) + close
            return paren + self.link(title, Target(docname)) + close
        if base == "cite":
            return paren + self.cite(content, textual=name in ("cite:t", "cite:ts", "cite:ct")) + close
        if name in ("sub", "subscript"):
            return f"{paren}<sub>{content}</sub>{close}"
        if name in ("sup", "superscript"):
            return f"{paren}<sup>{content}</sup>{close}"
        if name == "kbd":
            return f"{paren}<kbd>{content}</kbd>{close}"
        if name in ("term", "abbr", "index", "guilabel", "menuselection", "dfn", "download"):
            shown = re.sub(r"\s*\(.*\)$", "", text or target) if name == "abbr" else (text or target)
            return paren + shown + close
        # code-ish roles (py:func, code, file, command, ...): the name in code font
        return f"{paren}`{text or target}`{close}"

    def removed_ref(self, text: str | None, t: Target, label: str) -> str:
        """A reference to what the site's edition removed: where it is in the notebook."""
        noun = REMOVED_NOUNS.get(t.kind)
        if text and not re.search(r"\{number\}|%s", text):
            return text
        if noun is None:  # a section or anything else: its title, or the label's own words
            return t.title or label
        if t.docname != self.docname:
            return f"the {noun} in {self.refs.titles.get(t.docname, t.docname)}"
        return f"the {noun} {'above' if label in self.shown else 'below'}"

    def cite(self, keys: str, textual: bool) -> str:
        parts = []
        for key in (k.strip() for k in keys.split(",") if k.strip()):
            author, year = self.refs.bib.get(key, (None, None))
            if author is None:
                parts.append(self.problem(f"unknown citation {key!r}", f"[{key}]"))
            else:
                parts.append(f"{author} ({year})" if textual else f"{author}, {year}")
        return "; ".join(parts) if textual else f"({'; '.join(parts)})"

    def inline(self, text: str) -> str:
        """Roles, labelled display maths, relative images, MyST targets/comments, wording;
        code spans and fences are left alone."""
        self.shown.update(m[1] for m in re.finditer(r"^\s*\(([^()\s]+)\)=\s*$", text, re.M))
        text = "\n".join(ln for ln in text.split("\n")
                         if not TARGET.match(ln) and not re.match(r"^\s*%", ln))
        out, end = [], 0
        for m in INLINE.finditer(text):
            out.append(self.prose(text[end:m.start()]))
            out.append(self.role(m) if m["name"] else m[0])
            end = m.end()
        out.append(self.prose(text[end:]))
        return "".join(out)

    def prose(self, text: str) -> str:
        text = MATH_LABEL.sub(self.math_label, text)
        text = MD_IMAGE.sub(lambda m: f"![{m['alt']}]({self.image_url(m['src'])})", text)
        for pattern, replacement in SITE_WORDING:
            text = pattern.sub(replacement, text)
        return text

    def math_label(self, m: re.Match) -> str:
        t = self.refs.equations.get(m["label"])
        return f"\\tag{{{t.number}}}\n$$" if t else "$$"

    # -- directives -----------------------------------------------------------------------
    def convert(self, text: str) -> str:
        """Convert one markdown cell (directives first, recursively; then inline syntax)."""
        lines = text.split("\n")
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            plain = PLAIN_FENCE.match(line)
            if plain:  # an ordinary code block: copy it through untouched
                fence = plain["fence"]
                j = i + 1
                while j < len(lines) and not re.match(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[j]):
                    j += 1
                out.extend(lines[i:j + 1])
                i = j + 1
                continue
            m = OPEN_FENCE.match(line)
            if not m:
                # a run of ordinary lines is converted at once (roles may span lines)
                j = i
                while j < len(lines) and not (PLAIN_FENCE.match(lines[j]) or OPEN_FENCE.match(lines[j])):
                    j += 1
                out.append(self.inline("\n".join(lines[i:j])))
                i = j
                continue
            fence = m["fence"]
            close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
            j = i + 1
            while j < len(lines) and not close.match(lines[j]):
                j += 1
            options, body = self.split_options(lines[i + 1:j])
            self.shown.update(options[k] for k in ("name", "label") if options.get(k))
            out.append(self.directive(m["name"], m["arg"], options, body))
            i = j + 1
        return re.sub(r"\n{3,}", "\n\n", "\n".join(out))

    @staticmethod
    def split_options(lines: list[str]) -> tuple[dict[str, str], str]:
        options: dict[str, str] = {}
        k = 0
        if lines and lines[0].strip() == "---":
            end = next((n for n in range(1, len(lines)) if lines[n].strip() == "---"), None)
            if end is not None:
                import yaml

                loaded = yaml.safe_load("\n".join(lines[1:end])) or {}
                options = {str(a): "" if b is None else str(b) for a, b in loaded.items()}
                k = end + 1
        else:
            while k < len(lines) and OPTION.match(lines[k]):
                opt = OPTION.match(lines[k])
                options[opt["key"]] = opt["value"]
                k += 1
        return options, "\n".join(lines[k:]).strip("\n")

    def caption(self, label: str, text: str) -> str:
        """A figure's caption with the site's number: "**Fig. 2.1.** caption"."""
        self.shown.add(label)
        number = self.refs.labels.get(label, Target("")).numbered if label else ""
        caption = " ".join(self.convert(text.strip()).split())
        return f"**{number}.** {caption}" if number else f"*{caption}*"

    def exercise_title(self, label: str, title: str) -> str:
        """"Exercise 3 (title)", as the site numbers it."""
        number = self.refs.labels.get(label, Target("")).numbered if label else ""
        name = number or "Exercise"
        return f"{name} ({self.inline(title)})" if title else name

    def directive(self, name: str, arg: str, options: dict[str, str], body: str) -> str:
        classes = options.get("class", "").split()
        if name == "literalinclude":
            return self.literalinclude(arg, options)
        if name in CODE_BLOCKS:
            return f"```{arg or options.get('language', '')}\n{body}\n```"
        if name == "math":
            t = self.refs.equations.get(options.get("label", ""))
            tag = f"\n\\tag{{{t.number}}}" if t else ""
            return f"$$\n{body}{tag}\n$$"
        if name in DROPPED:
            return ""
        if name == "only":  # the notebook is not the HTML site
            return self.convert(body) if only_applies(arg, {"notebook", "colab", "ipynb"}) else ""
        if name in ("figure", "image"):
            alt = options.get("alt", body.split("\n")[0] if body else "")
            image = f"![{alt}]({self.image_url(arg)})"
            if name != "figure" or not body:
                return image
            return f"{image}\n\n{self.caption(options.get('name', ''), body)}"
        if name.startswith("glue"):
            kind = name.partition(":")[2]
            image = self.glue_image(arg, options.get("alt", ""))
            if image is not None:  # a figure: shown as the site shows it, caption and number
                label = options.get("name", "")
                return f"{image}\n\n{self.caption(label, body)}" if body.strip() else image
            if kind in ("md", "math", "any", "") and arg:
                value = self.glue_role("md" if kind == "md" else "any", arg)
                return f"$$\n{value}\n$$" if kind == "math" else value
            return self.problem(f"glued value {arg!r} is not a figure (no image in its outputs)", "")
        if name == "solution-start":  # only the instructor's notebook has solutions
            return f"**Solution to {self.exercise_title(arg, '')}** (instructor's notebook)"
        if name == "solution-end":
            return ""
        if name == "exercise-start":
            return f"**{self.exercise_title(options.get('label', ''), arg)}**"
        if name == "exercise-end":
            return ""
        if name == "exercise":
            return quote(f"**{self.exercise_title(options.get('label', ''), arg)}**\n\n{self.convert(body)}")
        if name == "solution":  # its argument is the exercise's label
            return details(f"Solution to {self.exercise_title(arg, '')}", self.convert(body))
        if name in ADMONITIONS and name not in TITLED and arg:
            body, arg = f"{arg}\n{body}", ""  # e.g. {note}: the argument is the body's first line
        inner = self.convert(body)
        kind = ADMONITIONS.get(name, "")
        arg = self.inline(arg) if arg else ""
        if name in ("dropdown", "toggle"):
            title = arg or "Details"
        elif arg:
            title = f"{kind}: {arg}" if kind else arg
        else:
            title = kind
        if name in ("dropdown", "toggle") or {"dropdown", "toggle"} & set(classes):
            return details(title or "Details", inner)  # hidden on the site: hidden here too
        if name in ADMONITIONS:
            return quote(f"**{title}**\n\n{inner}" if title else inner)
        # anything else (tabs, grids, list-table, ...): keep the content, lose the frame
        return f"**{title}**\n\n{inner}" if title else inner

    def literalinclude(self, arg: str, options: dict[str, str]) -> str:
        path = (self.page_dir / arg).resolve()
        code = included_source(path, options)
        language = options.get("language") or {".py": "python"}.get(path.suffix, "")
        caption = f"*{self.inline(options['caption'])}*\n\n" if options.get("caption") else ""
        return f"{caption}```{language}\n{code}\n```"
