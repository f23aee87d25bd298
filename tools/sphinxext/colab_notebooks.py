"""Local Sphinx extension: every page with code opens in Colab as a real notebook, and runs there.

- **Notebooks.** After an HTML build, every page with code cells is converted with jupytext from
  its MyST source into ``_build/html/notebooks/<slug>.ipynb`` (``book/mlp.md`` -> ``mlp.ipynb``):
  no outputs (students run it, and predict-then-run cells must not give the answer away), and
  every code cell kept, ``remove-cell`` ones included (they are needed to run), but not the
  book's own build-time checks: the top-level ``assert`` statements of ``remove-cell`` cells (a
  check such as "the self-check rejects the unfinished starter" would stop a student who has
  finished it) and cells tagged ``book-only``. MyST-only syntax in
  the markdown degrades to plain Markdown that Colab renders: ``literalinclude`` becomes a code
  block holding the included source, admonitions a quoted block with a bold title, dropdowns
  and solutions an HTML ``<details>`` block (hidden answers stay hidden), ``{eq}``/``{numref}``
  the site's numbers, ``{cite}`` author-year, ``{glue:text}`` the glued variable's name.
  Same input, same bytes: only the commit in the setup cell changes between builds.
- **A setup cell first.** It installs ``mlpbook`` from the repository at the commit the site
  was built from (``GITHUB_SHA``, else ``git rev-parse HEAD``, else the branch) with
  ``--no-deps`` (never touching Colab's torch/numpy/matplotlib), only when ``mlpbook`` is not
  importable; ``MLPBOOK_PIP_SOURCE`` replaces the install source (tests use a local ``code/``).
  Where ``myst_nb`` is missing (Colab) it registers a tiny ``myst_nb`` module whose ``glue``
  only displays, so pages doing ``from myst_nb import glue`` run top to bottom. The cell exists
  only in the notebook, never on the site.
- **Buttons.** On pages with code the theme's Colab launch entry points at
  ``colab.research.google.com/github/<org>/<repo>/blob/gh-pages/notebooks/<slug>.ipynb`` (the
  published branch, see ``make publish``), and the download menu's ``.ipynb`` entry at the
  generated notebook. Pages without code get neither. Edit/repository buttons are untouched
  and keep pointing at the source branch.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import textwrap
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from docutils.nodes import make_id
from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
NOTEBOOK_DIR = "notebooks"
PUBLISHED_BRANCH = "gh-pages"
COLAB = "https://colab.research.google.com"
SETUP_CELL_ID = "mlpbook-setup"
CODE_CELL = re.compile(r"^```\{code-cell\}", re.MULTILINE)


# --------------------------------------------------------------------------------------------
# Where things are
# --------------------------------------------------------------------------------------------


def slug(docname: str) -> str:
    """``book/mlp`` -> ``mlp`` (the same rule as tools/pages.py ``Page.slug``)."""
    return docname.split("/", 1)[-1].replace("/", "-")


def github_parts(url: str) -> tuple[str, str] | None:
    """``https://github.com/org/repo(.git)`` -> ``("org", "repo")``; None if not GitHub."""
    m = re.match(r"^(?:https?://|git@)(?:www\.)?github\.com[/:]([^/\s]+)/([^/\s]+?)(?:\.git)?/?$",
                 (url or "").strip())
    return (m.group(1), m.group(2)) if m else None


def source_commit(srcdir: Path, branch: str, book_path: str = "") -> str:
    """The commit the site is built from: CI's ``GITHUB_SHA``, else git's HEAD, else the branch."""
    sha = os.environ.get("GITHUB_SHA", "").strip()
    if re.fullmatch(r"[0-9a-f]{40}", sha):
        return sha
    try:
        top = subprocess.run(["git", "-C", str(srcdir), "rev-parse", "--show-toplevel", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=True).stdout.split()
        # Only this repository's own HEAD: a copy of it inside some other repository is not it.
        root = srcdir.resolve().parents[len(PurePosixPath(book_path).parts) - 1] if book_path else srcdir.resolve()
        if len(top) == 2 and Path(top[0]).resolve() == root:
            dirty = subprocess.run(["git", "-C", str(srcdir), "status", "--porcelain", "--", "code"],
                                   capture_output=True, text=True, timeout=10).stdout.strip()
            if dirty:
                LOGGER.info("[colab] code/ has uncommitted changes; the notebooks install mlpbook "
                            "as committed at %s", top[1][:12])
            return top[1]
    except (OSError, subprocess.SubprocessError):
        pass
    LOGGER.info("[colab] no GITHUB_SHA and no git checkout: notebooks install mlpbook from "
                "branch %r", branch)
    return branch


def repo_settings(app: Sphinx) -> dict[str, str] | None:
    """org, repo, branch, commit and the book's path in the repository, from _config.yml."""
    opts = app.config.html_theme_options or {}
    parts = github_parts(opts.get("repository_url", ""))
    if parts is None:
        return None
    if not hasattr(app, "_colab_repo"):
        branch = opts.get("repository_branch") or "main"
        book_path = str(opts.get("path_to_docs", "") or "").strip("/")
        app._colab_repo = {
            "org": parts[0], "repo": parts[1], "branch": branch, "book_path": book_path,
            "commit": source_commit(Path(app.srcdir), branch, book_path),
        }
    return app._colab_repo


def colab_url(settings: dict[str, str], docname: str) -> str:
    return (f"{COLAB}/github/{settings['org']}/{settings['repo']}/blob/{PUBLISHED_BRANCH}/"
            f"{NOTEBOOK_DIR}/{slug(docname)}.ipynb")


def pip_requirement(settings: dict[str, str]) -> str:
    sub = "/".join(p for p in (settings["book_path"], "code") if p)
    return (f"mlpbook @ git+https://github.com/{settings['org']}/{settings['repo']}"
            f"@{settings['commit']}#subdirectory={sub}")


def page_has_code(app: Sphinx, docname: str) -> bool:
    """Whether the page's source has a code cell (what gets a notebook and a Colab button)."""
    path = Path(app.env.doc2path(docname))
    return path.suffix == ".md" and path.exists() and bool(CODE_CELL.search(path.read_text("utf-8")))


# --------------------------------------------------------------------------------------------
# The setup cell
# --------------------------------------------------------------------------------------------

SETUP_TEMPLATE = '''\
# @title Setup: installs the course package `mlpbook` if it is missing (run this first)
# On Colab this installs `mlpbook` from the commit this page was built from; where it is
# already installed it does nothing. torch, numpy and matplotlib are never (re)installed.
import importlib, importlib.util, os, sys, types

if importlib.util.find_spec("mlpbook") is None:
    _mlpbook_src = os.environ.get("MLPBOOK_PIP_SOURCE") or {requirement!r}
    print("Installing mlpbook from", _mlpbook_src)
    %pip install -q --no-deps "{{_mlpbook_src}}"
    importlib.invalidate_caches()
    import mlpbook
    print("mlpbook", mlpbook.__version__, "installed in", os.path.dirname(mlpbook.__file__))
else:
    print("mlpbook is already installed: nothing to do.")

if importlib.util.find_spec("myst_nb") is None:
    # The book glues computed numbers into its text with myst_nb.glue; here they are just shown.
    def glue(name, variable, display=True):
        """Stand-in for myst_nb.glue outside the book: display the value if asked to."""
        if display:
            from IPython.display import display as _display
            _display(variable)

    sys.modules["myst_nb"] = types.ModuleType("myst_nb", "Stand-in for myst_nb (glue only).")
    sys.modules["myst_nb"].glue = glue
    del glue
    importlib.invalidate_caches()
'''


def setup_source(settings: dict[str, str]) -> str:
    return SETUP_TEMPLATE.format(requirement=pip_requirement(settings)).rstrip("\n")


# --------------------------------------------------------------------------------------------
# MyST -> plain Markdown
# --------------------------------------------------------------------------------------------

ADMONITIONS = {
    "note": "Note", "tip": "Tip", "hint": "Hint", "important": "Important", "warning": "Warning",
    "caution": "Caution", "attention": "Attention", "danger": "Danger", "error": "Error",
    "seealso": "See also", "admonition": "", "margin": "", "sidebar": "", "topic": "",
    "epigraph": "", "pull-quote": "", "highlights": "", "card": "", "exercise": "Exercise",
}
# directives whose argument is a title (for the other admonitions it is the first body line)
TITLED = {"admonition", "exercise", "topic", "sidebar", "card", "margin"}
HIDDEN = {"dropdown": "Details", "toggle": "Details", "solution": "Solution"}
DROPPED = {"bibliography", "tableofcontents", "toctree", "index", "contents", "glossary-index"}
CODE_BLOCKS = {"code-block", "code", "sourcecode"}
SOL_START, SOL_END = "\x00solution-start\x00", "\x00solution-end\x00"

OPEN_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,})\{(?P<name>[^}\s]+)\}[ \t]*(?P<arg>.*?)\s*$")
PLAIN_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>[^`{]*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>.*?)\s*$")
ROLE = re.compile(r"\{(?P<name>[\w:.+-]+)\}`(?P<content>[^`]*)`")
TARGET = re.compile(r"^\s*\([^()\s]+\)=\s*$")
MATH_LABEL = re.compile(r"\$\$[ \t]*\((?P<label>[^()\s]+)\)[ \t]*$", re.MULTILINE)
MD_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)")


def _explicit(content: str) -> tuple[str | None, str]:
    """``text <target>`` -> (text, target); ``target`` -> (None, target)."""
    m = re.match(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", content.strip(), re.DOTALL)
    if m and m.group("text"):
        return m.group("text"), m.group("target")
    return None, content.strip().lstrip("~!")


def _quote(text: str) -> str:
    return "\n".join(("> " + ln).rstrip() for ln in text.strip("\n").splitlines())


def _details(summary: str, body: str) -> str:
    return f"<details>\n<summary><b>{summary}</b></summary>\n\n{body.strip()}\n\n</details>"


def _line_ranges(spec: str, n: int) -> list[int]:
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


class MystToMarkdown:
    """Turn the MyST of one page's markdown cells into Markdown that Colab renders."""

    def __init__(self, app: Sphinx, docname: str, settings: dict[str, str], bib: dict[str, str]):
        self.app, self.env, self.docname = app, app.env, docname
        self.page_dir = Path(app.env.doc2path(docname)).parent
        self.srcdir = Path(app.srcdir)
        self.settings = settings
        self.bib = bib
        self.site = (app.config.html_baseurl or "").rstrip("/")

    # -- helpers ------------------------------------------------------------------------------
    def raw_url(self, src: str) -> str:
        """A repository file (relative to the page) as a raw.githubusercontent.com URL."""
        if re.match(r"^[a-z][a-z0-9+.-]*:", src) or src.startswith("/"):
            return src
        path = (self.page_dir / src).resolve()
        try:
            rel = path.relative_to(self.srcdir.resolve()).as_posix()
        except ValueError:
            return src
        s = self.settings
        prefix = f"{s['book_path']}/" if s["book_path"] else ""
        return f"https://raw.githubusercontent.com/{s['org']}/{s['repo']}/{s['commit']}/{prefix}{rel}"

    def equation_number(self, label: str) -> str | None:
        """The number the site shows for an equation (as Sphinx's math domain resolves it)."""
        entry = self.env.get_domain("math").equations.get(label)
        if not entry:
            return None
        docname, number = entry
        config = self.app.config
        if config.math_numfig and config.numfig:
            numbers = self.env.toc_fignumbers.get(docname, {}).get("displaymath", {}).get(
                make_id(f"equation-{label}"), ())
            if not numbers:
                return str(number)
            eqno = ".".join(map(str, numbers))
            return config.math_numsep.join(eqno.rsplit(".", 1))
        return str(number)

    def fig_number(self, label: str) -> str | None:
        std = self.env.get_domain("std")
        entry = std.labels.get(label) or std.anonlabels.get(label)
        if not entry:
            return None
        docname, labelid = entry[0], entry[1]
        for kind, numbers in self.env.toc_fignumbers.get(docname, {}).items():
            if labelid in numbers:
                fmt = self.app.config.numfig_format.get(kind, "%s")
                return fmt % ".".join(map(str, numbers[labelid]))
        return None

    def docname_of(self, target: str) -> str:
        """A ``{doc}`` target (relative, or absolute from the book root) -> its docname."""
        target = re.sub(r"\.(md|ipynb|rst)$", "", target)
        doc = target[1:] if target.startswith("/") else str(PurePosixPath(self.docname).parent / target)
        return os.path.normpath(doc).replace(os.sep, "/")

    def doc_title(self, target: str) -> str:
        title = self.env.titles.get(self.docname_of(target))
        return title.astext() if title is not None else target

    def cite(self, keys: str, textual: bool) -> str:
        parts = []
        for key in (k.strip() for k in keys.split(",") if k.strip()):
            author, year = self.bib.get(key, (None, None))
            if author is None:
                parts.append(f"[{key}]")
            else:
                parts.append(f"{author} ({year})" if textual else f"{author}, {year}")
        return "; ".join(parts) if textual else f"({'; '.join(parts)})"

    # -- roles --------------------------------------------------------------------------------
    def role(self, m: re.Match) -> str:
        name, content = m.group("name"), m.group("content")
        text, target = _explicit(content)
        base = name.split(":")[0]
        if base == "glue":
            return f"`{content.split(':', 1)[0].strip()}`"
        if name == "math":
            return f"${content}$"
        if name == "eq":
            number = self.equation_number(target)
            return f"({number})" if number else f"({target})"
        if name == "numref":
            number = self.fig_number(target)
            if text:
                return text.replace("{number}", number or "").replace("%s", number or "")
            return number or "the figure"
        if name == "ref":
            if text:
                return f"*{text}*"
            entry = self.env.get_domain("std").labels.get(target)
            return f"*{entry[2]}*" if entry and entry[2] else f"*{target}*"
        if name == "doc":
            title = text or self.doc_title(target)
            if self.site:  # link to the page on the published site
                return f"[*{title}*]({self.site}/{self.docname_of(target)}.html)"
            return f"*{title}*"
        if base == "cite":
            return self.cite(content, textual=name in ("cite:t", "cite:ts", "cite:ct"))
        if name in ("sub", "subscript"):
            return f"<sub>{content}</sub>"
        if name in ("sup", "superscript"):
            return f"<sup>{content}</sup>"
        if name == "kbd":
            return f"<kbd>{content}</kbd>"
        if name in ("term", "abbr", "index", "guilabel", "menuselection", "dfn", "download"):
            return re.sub(r"\s*\(.*\)$", "", text or target) if name == "abbr" else (text or target)
        # code-ish roles (py:func, code, file, command, ...): the name in code font
        return f"`{text or target}`"

    def inline(self, text: str) -> str:
        """Roles, labelled display maths, relative images, and MyST targets/comments."""
        lines = [ln for ln in text.split("\n")
                 if not TARGET.match(ln) and not re.match(r"^\s*%", ln)]
        text = "\n".join(lines)
        # plain code spans and fences are left alone: substitute only outside them
        pieces = re.split(r"(```[\s\S]*?```|~~~[\s\S]*?~~~)", text)
        for i in range(0, len(pieces), 2):
            piece = ROLE.sub(self.role, pieces[i])
            piece = MATH_LABEL.sub(self.math_label, piece)
            piece = MD_IMAGE.sub(lambda m: f"![{m.group('alt')}]({self.raw_url(m.group('src'))})", piece)
            pieces[i] = piece
        return "".join(pieces)

    def math_label(self, m: re.Match) -> str:
        number = self.equation_number(m.group("label"))
        return f"\\tag{{{number}}}\n$$" if number else "$$"

    # -- directives ---------------------------------------------------------------------------
    def convert(self, text: str) -> str:
        """Convert one markdown cell (directives first, recursively; then inline syntax)."""
        lines = text.split("\n")
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            plain = PLAIN_FENCE.match(line)
            if plain:  # an ordinary code block: copy it through untouched
                fence = plain.group("fence")
                j = i + 1
                while j < len(lines) and not re.match(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[j]):
                    j += 1
                out.extend(lines[i:j + 1])
                i = j + 1
                continue
            m = OPEN_FENCE.match(line)
            if not m:
                out.append(self.inline(line))
                i += 1
                continue
            fence = m.group("fence")
            close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
            j = i + 1
            while j < len(lines) and not close.match(lines[j]):
                j += 1
            body_lines = lines[i + 1:j]
            options, body = self.split_options(body_lines)
            out.append(self.directive(m.group("name"), m.group("arg"), options, body))
            i = j + 1
        return "\n".join(out)

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
                options[opt.group("key")] = opt.group("value")
                k += 1
        return options, "\n".join(lines[k:]).strip("\n")

    def directive(self, name: str, arg: str, options: dict[str, str], body: str) -> str:
        classes = options.get("class", "").split()
        if name == "literalinclude":
            return self.literalinclude(arg, options)
        if name in CODE_BLOCKS:
            return f"```{arg or options.get('language', '')}\n{body}\n```"
        if name == "math":
            number = self.equation_number(options.get("label", "")) if options.get("label") else None
            tag = f"\n\\tag{{{number}}}" if number else ""
            return f"$$\n{body}{tag}\n$$"
        if name in DROPPED:
            return ""
        if name in ("figure", "image"):
            alt = options.get("alt", body.split("\n")[0] if body else "")
            image = f"![{alt}]({self.raw_url(arg)})"
            caption = self.convert(body) if name == "figure" and body else ""
            return f"{image}\n\n*{caption}*" if caption else image
        if name.startswith("glue"):
            return f"*(the figure `{arg}` is drawn by the code above)*"
        if name in ("solution-start", "solution-end"):
            return SOL_START if name.endswith("start") else SOL_END
        if name in ("exercise-start", "exercise-end"):
            return f"**Exercise{f' ({self.inline(arg)})' if arg else ''}**" if name.endswith("start") else ""
        if name in ADMONITIONS and name not in TITLED and arg:
            body, arg = f"{arg}\n{body}", ""  # e.g. {note}: the argument is the body's first line
        inner = self.convert(body)
        # the title, as the site shows it: "Note", "Note: <arg>", "<arg>" (admonition), ...
        kind = ADMONITIONS.get(name) or HIDDEN.get(name, "")
        arg = self.inline(arg) if arg else ""
        if name == "exercise":
            title = f"{kind} ({arg})" if arg else kind
        elif name in ("dropdown", "toggle"):
            title = arg or kind
        elif name in HIDDEN:
            title = kind  # a solution's argument is the exercise's label
        elif arg:
            title = f"{kind}: {arg}" if kind and name != "admonition" else arg
        else:
            title = kind
        if name in HIDDEN or {"dropdown", "toggle"} & set(classes):
            return _details(title or "Details", inner)  # hidden on the site: hidden here too
        if name in ADMONITIONS:
            return _quote(f"**{title}**\n\n{inner}" if title else inner)
        # anything else (tabs, grids, list-table, ...): keep the content, lose the frame
        return f"**{title}**\n\n{inner}" if title else inner

    def literalinclude(self, arg: str, options: dict[str, str]) -> str:
        path = (self.page_dir / arg).resolve()
        text = path.read_text("utf-8")
        if "pyobject" in options:
            text = pyobject_source(path, options["pyobject"])
        lines = text.splitlines()
        if "lines" in options:
            lines = [lines[i] for i in _line_ranges(options["lines"], len(lines))]
        for key, after in (("start-after", True), ("start-at", False)):
            if key in options:
                n = next(n for n, ln in enumerate(lines) if options[key] in ln)
                lines = lines[n + 1:] if after else lines[n:]
        for key, before in (("end-before", True), ("end-at", False)):
            if key in options:
                n = next(n for n, ln in enumerate(lines) if options[key] in ln)
                lines = lines[:n] if before else lines[:n + 1]
        code = textwrap.dedent("\n".join(lines)).strip("\n")
        language = options.get("language") or {".py": "python"}.get(path.suffix, "")
        caption = f"*{self.inline(options['caption'])}*\n\n" if options.get("caption") else ""
        return f"{caption}```{language}\n{code}\n```"


def bibliography(app: Sphinx) -> dict[str, tuple[str, str]]:
    """``key -> (authors, year)`` for author-year citations, from the book's .bib files."""
    from pybtex.database import parse_file

    out: dict[str, tuple[str, str]] = {}
    for bib in getattr(app.config, "bibtex_bibfiles", []) or []:
        path = Path(app.srcdir) / bib
        if not path.exists():
            continue
        for key, entry in parse_file(str(path)).entries.items():
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [re.sub(r"[{}\\]", "", " ".join(p.last_names)) for p in people]
            if not names:
                who = re.sub(r"[{}\\]", "", entry.fields.get("organization", "")
                             or entry.fields.get("institution", "") or entry.fields.get("title", key))
            elif len(names) == 1:
                who = names[0]
            elif len(names) == 2:
                who = f"{names[0]} and {names[1]}"
            else:
                who = f"{names[0]} et al."
            out[key] = (who, entry.fields.get("year", "n.d."))
    return out


# --------------------------------------------------------------------------------------------
# The notebook
# --------------------------------------------------------------------------------------------

# Cells tagged so only check the book at build time: they are left out of the notebooks.
BOOK_ONLY = "book-only"


def without_asserts(source: str) -> str:
    """A ``remove-cell`` cell without its top-level ``assert`` statements: those are the book's
    build-time checks (e.g. "the self-check rejects the unfinished starter", which would stop a
    student who has finished it), and nothing after them depends on them."""
    try:
        body = ast.parse(source).body
    except SyntaxError:  # IPython syntax: keep the cell as it is
        return source
    others = {n for node in body if not isinstance(node, ast.Assert)
              for n in range(node.lineno, node.end_lineno + 1)}
    drop = {n for node in body if isinstance(node, ast.Assert)
            for n in range(node.lineno, node.end_lineno + 1)}
    if not drop or drop & others:  # `x = f(); assert x` on one line: leave the cell alone
        return source
    lines = [ln for n, ln in enumerate(source.split("\n"), start=1) if n not in drop]
    return "\n".join(lines).strip("\n")


def _has_statements(source: str) -> bool:
    try:
        return bool(ast.parse(source).body)
    except SyntaxError:
        return True


RAISES_NOTE = ("# This cell raises an error on purpose, as on the book's page. The error is printed\n"
               "# and \"Run all\" carries on with the next cell.\n")


def shows_error(code: str) -> str:
    """Wrap a cell that raises on purpose so the notebook prints the error and goes on."""
    body = textwrap.indent(code.rstrip("\n"), "    ")
    return (f"{RAISES_NOTE}try:\n{body}\nexcept Exception:\n"
            "    import traceback\n    traceback.print_exc(limit=1)\n")


def build_notebook(app: Sphinx, docname: str, settings: dict[str, str], bib: dict) -> str:
    """The notebook of one page, as the exact text written to disk."""
    import jupytext
    import nbformat

    path = Path(app.env.doc2path(docname))
    source = jupytext.read(path, fmt="md:myst")
    converter = MystToMarkdown(app, docname, settings, bib)
    cells = [nbformat.v4.new_code_cell(setup_source(settings), id=SETUP_CELL_ID,
                                       metadata={"cellView": "form", "tags": [SETUP_CELL_ID]})]
    in_solution = False
    for cell in source.cells:
        tags = list(cell.metadata.get("tags", []))
        if cell.cell_type == "code":
            code = without_asserts(cell.source) if "remove-cell" in tags else cell.source
            if BOOK_ONLY in tags or not _has_statements(code):
                continue
            meta: dict[str, Any] = {"tags": tags} if tags else {}
            if "raises-exception" in tags:
                code = shows_error(code)
            if in_solution:  # Colab folds a form cell's code away; JupyterLab hides the input
                code = "# @title Solution (double-click to show the code)\n" + code
                meta.update({"cellView": "form", "jupyter": {"source_hidden": True}})
            cells.append(nbformat.v4.new_code_cell(code, metadata=meta))
            figure = (cell.metadata.get("mystnb") or {}).get("figure") or {}
            if figure.get("caption") and "remove-output" not in tags and "remove-cell" not in tags:
                number = converter.fig_number(figure["name"]) if figure.get("name") else None
                caption = converter.convert(str(figure["caption"]).strip())
                label = f"**{number}.** " if number else ""
                cells.append(nbformat.v4.new_markdown_cell(f"{label}{' '.join(caption.split())}"))
            continue
        if cell.cell_type != "markdown":
            continue
        text = converter.convert(cell.source)
        # gated solutions (solution-start ... solution-end) may span cells: fold their prose
        chunks = re.split(f"({SOL_START}|{SOL_END})", text)
        parts: list[str] = []
        for chunk in chunks:
            if chunk in (SOL_START, SOL_END):
                in_solution = chunk == SOL_START
                continue
            if chunk.strip():
                parts.append(_details("Solution", chunk) if in_solution else chunk.strip("\n"))
        text = re.sub(r"\n{3,}", "\n\n", "\n\n".join(parts)).strip()
        if text:
            cells.append(nbformat.v4.new_markdown_cell(text))
    for n, cell in enumerate(cells[1:], start=1):  # deterministic ids: same input, same bytes
        cell["id"] = f"cell-{n:03d}"
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "toc_visible": True},
    })
    nbformat.validate(nb)
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_notebooks(app: Sphinx, exception: Exception | None) -> None:
    """build-finished: (re)write every page's notebook; remove notebooks of vanished pages."""
    if exception is not None or app.builder.format != "html":
        return
    settings = repo_settings(app)
    if settings is None:
        LOGGER.info("[colab] repository.url is not a GitHub URL: no notebooks, no Colab buttons")
        return
    bib = bibliography(app)
    outdir = Path(app.outdir) / NOTEBOOK_DIR
    outdir.mkdir(parents=True, exist_ok=True)
    written = set()
    for docname in sorted(app.env.found_docs):
        if not page_has_code(app, docname):
            continue
        target = outdir / f"{slug(docname)}.ipynb"
        text = build_notebook(app, docname, settings, bib)
        if not target.exists() or target.read_text("utf-8") != text:
            target.write_text(text, encoding="utf-8")
        written.add(target.name)
    for stale in outdir.glob("*.ipynb"):
        if stale.name not in written:
            stale.unlink()
    LOGGER.info("[colab] %d notebook(s) in %s/ (install commit %s)", len(written), NOTEBOOK_DIR,
                settings["commit"])


# --------------------------------------------------------------------------------------------
# The buttons
# --------------------------------------------------------------------------------------------


def _group(context: dict, label: str) -> dict | None:
    return next((b for b in context.get("header_buttons", []) if b.get("label") == label), None)


def retarget_buttons(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """html-page-context, after the theme's handlers (priority 501): fix launch and download."""
    if "header_buttons" not in context or pagename not in app.env.found_docs:
        return
    settings = repo_settings(app)
    has_code = settings is not None and page_has_code(app, pagename)
    buttons = context["header_buttons"]
    launch = _group(context, "launch-buttons")
    if launch is not None:
        for entry in list(launch["buttons"]):
            if entry.get("text") == "Colab":
                if has_code:
                    entry["url"] = colab_url(settings, pagename)
                    entry["tooltip"] = "Open this page as a notebook in Colab"
                else:
                    launch["buttons"].remove(entry)
        if not launch["buttons"]:
            buttons.remove(launch)
    download = _group(context, "download-buttons")
    if download is not None:
        entries = [b for b in download["buttons"] if b.get("label") != "download-notebook-button"]
        if has_code:
            entries.insert(0, {
                "type": "link",
                "url": context["pathto"](f"{NOTEBOOK_DIR}/{slug(pagename)}.ipynb", 1),
                "text": ".ipynb",
                "icon": "fas fa-code",
                "tooltip": "Download this page as a notebook (no outputs; runs on Colab)",
                "label": "download-notebook-button",
            })
        download["buttons"] = entries


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", retarget_buttons, priority=900)
    app.connect("build-finished", write_notebooks)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
