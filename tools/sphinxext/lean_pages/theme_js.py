"""pydata-sphinx-theme's script without its tab-stop pass, which reader.js does lazily.

The theme (0.17.1) gives every ``pre``, cell output and table box that scrolls a tab stop by
measuring all of them when the page starts and again after every change inside the article (a
figure wrapped, an answer opened). Measuring a box lays out its section, so on a long page this
lays out every section, the ones ``content-visibility: auto`` (custom.css) would skip: most of
a second of blocking time on a phone. reader.js gives the same boxes (and formulas and figures)
their tab stop when they come near the screen. In the written site the pass returns at once.
Runs on the built site at the end of every build; idempotent. If the theme's code changes (a
theme upgrade), the pass is not found and the build fails, to be looked at again.
"""

from __future__ import annotations

from pathlib import Path

JS = Path("_static") / "scripts" / "pydata-sphinx-theme.js"
MARK = "/* lean_pages: the theme's tab-stop pass is reader.js's (docs/performance.md) */\n"
# The pass, as minified in pydata-sphinx-theme 0.17.1: it measures these boxes, then re-runs on
# resize and on any change in #main-content.
PASS = 'const e=()=>{document.querySelectorAll(["pre",".nboutput > .output_area",'
RETURN = "return;"


class ThemeChanged(RuntimeError):
    """The theme's script no longer has the pass this module disables."""


def drop_tab_stop_pass(outdir: Path) -> bool:
    """Make the theme's tab-stop pass return at once; True when the file was changed."""
    path = outdir / JS
    if not path.is_file():
        return False
    js = path.read_text(encoding="utf-8")
    if js.startswith(MARK):
        return False
    if js.count(PASS) != 1:
        raise ThemeChanged(f"{JS}: the theme's tab-stop pass ({PASS[:40]}...) was not found once; "
                           "see tools/sphinxext/lean_pages/theme_js.py")
    path.write_text(MARK + js.replace(PASS, RETURN + PASS), encoding="utf-8")
    return True
