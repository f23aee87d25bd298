"""Local Sphinx extension: maths typeset at build time with KaTeX; no maths engine in the browser.

Every ``math`` and ``math_block`` node (MyST ``$...$``, ``$$...$$``, ``{math}``, amsmath
environments, ``text/latex`` cell outputs) is rendered by KaTeX in Node.js while Sphinx writes
the page, so the HTML arrives with its formulas typeset. Each formula carries KaTeX's MathML
(what screen readers read; its ``<annotation>`` keeps the TeX) next to the HTML the eye sees.
Equation numbers, ``{eq}`` links and the search index (built from the TeX) work as with MathJax;
the Colab notebooks are written from the MyST source and keep their LaTeX.

- ``render.js`` (beside this file) is one Node process per Sphinx process, answering one JSON
  line per formula; katex comes from the repository's ``node_modules`` (``package.json``,
  installed by ``make venv`` with ``npm ci``). A formula KaTeX cannot typeset is a warning with
  the page and line, so ``make book`` (``-W``) fails.
- ``katex.min.css`` and the fonts the site's formulas use are copied to ``_static/katex/``; the
  stylesheet is linked only from pages that have maths. The fonts are subset to the characters
  the site's formulas draw (fontTools), so a page downloads a few KB of fonts, not ~150 KB.
- ``katex-site.css`` (beside this file): wide formulas scroll in their own box on a phone.

See docs/performance.md.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC = "katex"  # _static/katex/
CSS_FILES = (f"{STATIC}/katex.min.css", f"{STATIC}/katex-site.css")
# Fonts nearly every formula draws, requested with the stylesheets instead of after the first
# layout (a round trip less before the first paint of a page whose first screen has maths).
# (Math-Italic: a page's letters, class "mathnormal"; a page of numbers only draws none.)
PRELOAD_FONTS = {"KaTeX_Main-Regular": "katex-html", "KaTeX_Math-Italic": "mathnormal"}
HOW_TO_INSTALL = ("the maths is typeset at build time by KaTeX in Node.js: install Node.js >= 18 "
                  "and run `make venv` (it runs `npm ci` in the repository)")


def katex_dir(srcdir: Path) -> Path:
    """The installed katex package: the repository's node_modules (the book's source root)."""
    for base in (Path(srcdir), HERE.parent.parent.parent):
        candidate = base / "node_modules" / "katex"
        if (candidate / "dist" / "katex.min.css").is_file():
            return candidate
    raise ExtensionError(f"node_modules/katex not found: {HOW_TO_INSTALL}")


class Katex:
    """One Node.js process running render.js, started on first use in this process."""

    def __init__(self, katex: Path) -> None:
        self.katex = katex
        self.proc: subprocess.Popen | None = None
        self.pid = -1
        self.cache: dict[tuple[str, bool], str] = {}

    def _start(self) -> subprocess.Popen:
        node = shutil.which("node")
        if node is None:
            raise ExtensionError(f"node not found on PATH: {HOW_TO_INSTALL}")
        env = {**os.environ, "NODE_PATH": str(self.katex.parent)}
        self.pid = os.getpid()
        return subprocess.Popen([node, str(HERE / "render.js")], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env)

    def render(self, tex: str, display: bool) -> tuple[str | None, str | None]:
        """(html, None), or (None, KaTeX's error message)."""
        key = (tex, display)
        if key in self.cache:
            return self.cache[key], None
        if self.proc is None or self.pid != os.getpid() or self.proc.poll() is not None:
            self.proc = self._start()  # (a forked Sphinx worker gets its own)
        self.proc.stdin.write(json.dumps({"tex": tex, "display": display}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise ExtensionError(f"the KaTeX process (render.js) stopped: {HOW_TO_INSTALL}")
        answer = json.loads(line)
        if "error" in answer:
            return None, answer["error"]
        self.cache[key] = answer["html"]
        return answer["html"], None

    def close(self) -> None:
        if self.proc is not None and self.pid == os.getpid():
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        self.proc = None


def _typeset(self, node, tex: str, display: bool) -> str:
    """KaTeX's HTML for ``tex``; on an error a warning (fails ``make book``) and the TeX."""
    out, error = self.builder.app.mlpbook_katex.render(tex, display)
    if error is not None:
        logger.warning("KaTeX cannot typeset %r: %s", tex, error, location=node,
                       type="katex", subtype="error")
        return f'<code class="katex-error">{html.escape(tex)}</code>'
    return out


def block_tex(node) -> str:
    """The TeX of a display formula, as sphinx.ext.mathjax writes it: several equations
    separated by blank lines are aligned; an equation with ``\\\\`` is a ``split``."""
    if node["nowrap"]:
        return node.astext()
    parts = [p for p in node.astext().split("\n\n") if p.strip()]
    parts = [rf"\begin{{split}}{p}\end{{split}}" if r"\\" in p else p for p in parts]
    if len(parts) > 1:
        return r"\begin{aligned}" + r"\\".join(parts) + r"\end{aligned}"
    return parts[0] if parts else ""


def visit_inline(self, node) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    self.body.append(_typeset(self, node, node.astext(), display=False))
    self.body.append("</span>")
    raise nodes.SkipNode


def visit_block(self, node) -> None:
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight"))
    if node["number"]:
        number = get_node_equation_number(self, node)
        self.body.append(f'<span class="eqno">({number})')
        self.add_permalink_ref(node, _("Link to this equation"))
        self.body.append("</span>")
    self.body.append(_typeset(self, node, block_tex(node), display=True))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def add_css(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """KaTeX's stylesheet, and its two main fonts preloaded, on the pages that have maths only."""
    if app.builder.format == "html" and app.env.get_domain("math").has_equations(pagename):
        for css in CSS_FILES:
            app.builder.add_css_file(css, priority=600)
        pathto = context["pathto"]
        context["metatags"] = context.get("metatags", "") + "".join(
            f'\n<link rel="preload" href="{pathto(f"_static/{STATIC}/fonts/{font}.woff", 1)}" '
            'as="font" type="font/woff" crossorigin />'
            for font, drawn_by in PRELOAD_FONTS.items() if drawn_by in context.get("body", ""))


def copy_assets(app: Sphinx, exception: Exception | None) -> None:
    """katex.min.css, katex-site.css and the fonts, subset to the characters the site draws.

    In ``make preview``'s warm Sphinx (``app.mlpbook_written``, mlpbook_build.py) KaTeX stays
    running between builds and the fonts are left as the last full build subset them (a glyph
    new to the site shows in a fallback font until ``make book``)."""
    preview = getattr(app, "mlpbook_written", None) is not None
    if not preview:
        app.mlpbook_katex.close()
    if exception is not None or app.builder.format != "html":
        return
    dest = Path(app.outdir) / "_static" / STATIC
    if preview and (dest / "katex.min.css").is_file():
        return
    import fonts  # beside this file

    dist = katex_dir(Path(app.srcdir)) / "dist"
    (dest / "fonts").mkdir(parents=True, exist_ok=True)
    shutil.copy2(HERE / "katex-site.css", dest / "katex-site.css")
    css = (dist / "katex.min.css").read_text(encoding="utf-8")
    (dest / "katex.min.css").write_text(fonts.woff_only(css), encoding="utf-8")
    fonts.subset_fonts(dist / "fonts", dest / "fonts", Path(app.outdir))


def setup(app: Sphinx) -> dict:
    import sys

    sys.path.insert(0, str(HERE))
    app.add_html_math_renderer("katex", (visit_inline, None), (visit_block, None))
    app.mlpbook_katex = Katex(katex_dir(Path(app.srcdir)))
    app.connect("config-inited", lambda app, config: setattr(config, "html_math_renderer", "katex"))
    app.connect("html-page-context", add_css)
    app.connect("build-finished", copy_assets)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": False}
