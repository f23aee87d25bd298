"""The MyST syntax the converter reads, and the plain pieces it writes (no page state here).

The fences, options and roles of MyST; which directives are admonitions, dropped or code; the
site's wording that a notebook adapts; Markdown helpers (quotes, ``<details>``); and the source
that ``literalinclude`` shows (``:pyobject:``, ``:lines:``, start/end markers).
"""

from __future__ import annotations

import ast
import html
import re
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Any

ADMONITIONS = {
    "note": "Note", "tip": "Tip", "hint": "Hint", "important": "Important", "warning": "Warning",
    "caution": "Caution", "attention": "Attention", "danger": "Danger", "error": "Error",
    "seealso": "See also", "admonition": "", "margin": "", "sidebar": "", "topic": "",
    "epigraph": "", "pull-quote": "", "highlights": "", "card": "",
}
# directives whose argument is a title (for the other admonitions it is the first body line)
TITLED = {"admonition", "topic", "sidebar", "card", "margin"}
DROPPED = {"bibliography", "tableofcontents", "toctree", "index", "contents", "glossary-index"}
CODE_BLOCKS = {"code-block", "code", "sourcecode"}
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml")  # a glued figure, best first
# {ref} to these shows the number, as on the site ("Exercise 3"), not the title
NUMBERED_REFS = {"exercise"}
# what a reference to a removed target calls it, by the kind of node it named
REMOVED_NOUNS = {"figure": "figure", "table": "table", "literal_block": "code",
                 "container": "code", "math_block": "equation", "displaymath": "equation"}

OPEN_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,})\{(?P<name>[^}\s]+)\}[ \t]*(?P<arg>.*?)\s*$")
PLAIN_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>[^`{]*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>.*?)\s*$")
ROLE = r"(?P<paren>\()?\{(?P<name>[\w:.+-]+)\}`(?P<content>[^`]*)`(?(paren)\))"
# what inline conversion scans for, left to right: code (left alone), a role (converted)
INLINE = re.compile(r"(?P<fence>```[\s\S]*?```|~~~[\s\S]*?~~~)|" + ROLE + r"|(?P<code>``[^`].*?``|`[^`\n]+`)")
TARGET = re.compile(r"^\s*\([^()\s]+\)=\s*$")
MATH_LABEL = re.compile(r"\$\$[ \t]*\((?P<label>[^()\s]+)\)[ \t]*$", re.MULTILINE)
MD_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)")

# Sentences about the site's own mechanics, as they read in a notebook.
SITE_WORDING = [
    (re.compile(r"\bclick(?: on)? the cell's output to(\s+)reveal\b", re.I), r"run the cell to\1reveal"),
    (re.compile(r"\bclick to (?:show|reveal) the output\b", re.I), "run the cell to see the output"),
    (re.compile(r"\bclick \*\*Show code cell (?:source|content)\*\*", re.I), "look at the code cell"),
    (re.compile(r"\b(the|a) hidden (code )?cell\b", re.I), r"\1 \2cell"),
    (re.compile(r"\bhidden cells\b", re.I), "cells"),
    (re.compile(r"\bopen it to see how\b"), "read it to see how"),
    (re.compile(r"\bthen show(\s+)the output\b"), r"then run\1the cell"),
    (re.compile(r"\bits output is folded away, since it gives the answer\b"),
     "run it once you have your answer: its output gives it away"),
]
# (A page can also say it in its own words: ```{only} html``` blocks are left out of the
# notebook, ```{only} notebook``` blocks appear only there.)


def _explicit(content: str) -> tuple[str | None, str]:
    """``text <target>`` -> (text, target); ``target`` -> (None, target)."""
    m = re.match(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", content.strip(), re.DOTALL)
    if m and m.group("text"):
        return m.group("text"), m.group("target")
    return None, content.strip().lstrip("~!")


def quote(text: str) -> str:
    return "\n".join(("> " + ln).rstrip() for ln in text.strip("\n").splitlines())


def inline_html(text: str) -> str:
    """Inline Markdown as HTML, for places Markdown is not rendered (``<summary>``)."""
    out = []
    for i, piece in enumerate(re.split(r"(`[^`]*`)", text)):
        if i % 2:
            out.append(f"<code>{html.escape(piece[1:-1])}</code>")
            continue
        piece = html.escape(piece, quote=False)
        piece = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', piece)
        piece = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", piece)
        piece = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<i>\1</i>", piece)
        out.append(piece)
    return "".join(out)


def details(summary: str, body: str) -> str:
    """A collapsed block (hidden on the site: hidden here too)."""
    return (f"<details>\n<summary><b>{inline_html(summary)}</b></summary>\n\n{body.strip()}\n\n"
            "</details>")


def only_applies(expression: str, tags: set[str]) -> bool:
    """Sphinx's ``{only}`` expression (``html``, ``not html``, ``notebook or latex``) for tags."""
    python = re.sub(r"[\w-]+", lambda m: m[0] if m[0] in ("and", "or", "not")
                    else str(m[0] in tags), expression)
    try:
        return bool(eval(python, {"__builtins__": {}}, {}))  # only True/False/and/or/not/()
    except SyntaxError:
        return False


def line_ranges(spec: str, n: int) -> list[int]:
    """Sphinx's ``:lines:`` syntax (``1-3,5,8-``) -> 0-based line indices."""
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a or 1) - 1, int(b) if b else n))
        elif part:
            out.append(int(part) - 1)
    return [i for i in out if 0 <= i < n]


@lru_cache(maxsize=64)
def _parsed(path: str, mtime: float) -> ast.Module:
    return ast.parse(Path(path).read_text("utf-8"))


def pyobject_source(path: Path, dotted: str) -> str:
    """The source of a (possibly nested) class or function, decorators included, dedented."""
    node: Any = _parsed(str(path), path.stat().st_mtime)
    for name in dotted.split("."):
        node = next((c for c in getattr(node, "body", [])
                     if isinstance(c, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                     and c.name == name), None)
        if node is None:
            raise LookupError(f"{dotted} not found in {path}")
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    lines = path.read_text("utf-8").splitlines()[start - 1:node.end_lineno]
    return textwrap.dedent("\n".join(lines))


def included_source(path: Path, options: dict[str, str]) -> str:
    """The code a ``literalinclude`` of ``path`` with ``options`` shows, dedented."""
    text = path.read_text("utf-8")
    if "pyobject" in options:
        text = pyobject_source(path, options["pyobject"])
    lines = text.splitlines()
    if "lines" in options:
        lines = [lines[i] for i in line_ranges(options["lines"], len(lines))]
    for key, after in (("start-after", True), ("start-at", False)):
        if key in options:
            n = next(n for n, ln in enumerate(lines) if options[key] in ln)
            lines = lines[n + 1:] if after else lines[n:]
    for key, before in (("end-before", True), ("end-at", False)):
        if key in options:
            n = next(n for n, ln in enumerate(lines) if options[key] in ln)
            lines = lines[:n] if before else lines[:n + 1]
    return textwrap.dedent("\n".join(lines)).strip("\n")
