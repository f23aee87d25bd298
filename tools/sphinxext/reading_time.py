"""Local Sphinx extension: an honest reading time on every page, computed from the page itself.

A page's reading time, in minutes, is

- its prose words (paragraphs, lists, captions, admonitions, tables) at ``WORDS_PER_MINUTE``,
- plus its *visible* lines of code (code cells whose input is not folded away, and
  ``literalinclude`` blocks) at ``CODE_LINES_PER_MINUTE``,
- plus ``MINUTES_PER_EQUATION`` for each displayed equation,
- plus ``MINUTES_PER_QUESTION`` for each question the reader is asked to answer ("Predict
  first", "Self-check", "Question ..." boxes, exercises, and dropdowns whose title is a question;
  an admonition with the class ``not-a-question`` is not counted, e.g. an example of a box),

rounded to the nearest minute (at least 1). Outputs of cells and code folded away
(``hide-input``) are not counted; cells tagged ``remove-cell`` are not on the page at all.

Each page is counted twice: **all** of it, and its **core**, which leaves out the optional
boxes, admonitions with the class ``deep-dive``::

    :::{admonition} Deep dive: <title>
    :class: dropdown deep-dive
    ...
    :::

A deep-dive box must be collapsed (``dropdown``) and titled "Deep dive: ..."; the build warns
(and so fails) otherwise. Code cells cannot sit inside a directive in a MyST notebook, so a deep
dive with code continues after its box: the code cells tagged ``deep-dive`` and the
``:::{container} deep-dive`` blocks (more prose) that follow the box, with nothing else between,
are moved into it when the page is read (cells the page removes may sit between them). A
``deep-dive`` cell or container that follows no box is a warning. Under each page's title the extension shows "core N min · all M min",
or one number when the page has no deep dive.

The role ``{reading-time}`` puts minutes into prose: ``{reading-time}`part:Lecture` `` is the sum
over the pages of the ``_toc.yml`` part whose caption starts with "Lecture";
``{reading-time}`recap` `` is one page (a docname, relative to the current page as for
``{doc}``). Both count all of a page; the prefix ``core:`` counts its core only
(``{reading-time}`core:part:Lecture` ``, ``{reading-time}`core:recap` ``). Sums add the minutes
shown on the pages, so they agree.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import asdict, dataclass

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)

WORDS_PER_MINUTE = 200
CODE_LINES_PER_MINUTE = 20
MINUTES_PER_EQUATION = 0.25
MINUTES_PER_QUESTION = 1.0
QUESTION_TITLES = re.compile(r"^(Predict first|Self-check|Question\b)")
DEEP_DIVE = "deep-dive"  # the class of an optional box: counted in "all", not in "core"
DEEP_DIVE_TITLE = "Deep dive: "
WORD = re.compile(r"[\w'’-]+")


@dataclass
class Counts:
    """What a reader meets on one page."""

    words: int = 0
    code_lines: int = 0
    equations: int = 0
    questions: int = 0

    @property
    def minutes(self) -> int:
        raw = (self.words / WORDS_PER_MINUTE + self.code_lines / CODE_LINES_PER_MINUTE
               + self.equations * MINUTES_PER_EQUATION + self.questions * MINUTES_PER_QUESTION)
        return max(1, round(raw))


class reading_time_ref(nodes.Inline, nodes.TextElement):
    """Placeholder for ``{reading-time}`...```, replaced by a number once every page is read."""


def _hidden_input(node: nodes.Node) -> bool:
    """True for the source of a code cell whose input is folded away or removed."""
    for parent in _ancestors(node):
        if isinstance(parent, nodes.container) and parent.get("nb_element") == "cell_code":
            tags = parent.get("cell_metadata", {}).get("tags", [])
            return parent.get("hide_mode") in ("input", "all") or bool(
                {"hide-input", "remove-input", "hide-cell"} & set(tags))
    return False


def _ancestors(node: nodes.Node):
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _in(node: nodes.Node, element: str) -> bool:
    return any(isinstance(p, nodes.container) and p.get("nb_element") == element
               for p in _ancestors(node))


def _title_of(node: nodes.Element) -> str:
    titles = [c for c in node.children if isinstance(c, nodes.title) or "title" in c.tagname]
    return titles[0].astext().strip() if titles else ""


def _deep_dive(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Admonition) and DEEP_DIVE in node.get("classes", [])


def _in_deep_dive(node: nodes.Node) -> bool:
    return _deep_dive(node) or any(_deep_dive(p) for p in _ancestors(node))


def count(doctree: nodes.document, *, core: bool = False) -> Counts:
    """Count the words, visible code lines, equations and questions of one page (with
    ``core``, leaving out what sits in a deep-dive box)."""
    c = Counts()
    for node in doctree.findall():
        if core and _in_deep_dive(node):
            continue
        if isinstance(node, nodes.literal_block):
            if not _in(node, "cell_code_output") and not _hidden_input(node):
                c.code_lines += len([ln for ln in node.astext().splitlines() if ln.strip()])
        elif isinstance(node, nodes.math_block):
            c.equations += 1
        elif isinstance(node, nodes.math):
            c.words += 1
        elif isinstance(node, nodes.Text):
            if not any(isinstance(p, (nodes.literal_block, nodes.math, nodes.math_block,
                                      nodes.raw, nodes.comment, nodes.image)) for p in _ancestors(node)):
                c.words += len(WORD.findall(str(node)))
        if isinstance(node, nodes.Admonition) or node.tagname == "exercise_enumerable_node":
            title = _title_of(node)
            classes = node.get("classes", [])
            if "not-a-question" in classes:
                continue
            if DEEP_DIVE in classes:
                continue  # the box itself is no question (what it asks inside is counted)
            if (node.tagname == "exercise_enumerable_node" or QUESTION_TITLES.match(title)
                    or ("dropdown" in classes and title.endswith("?"))):
                c.questions += 1
    return c


def describe(c: Counts, core: Counts | None = None) -> str:
    """The line under a page's title: its reading time (core and all when they differ), then
    what all of the page holds."""
    parts = [f"{c.words:,} words"]
    if c.code_lines:
        parts.append(f"{c.code_lines} line{'s' if c.code_lines != 1 else ''} of code")
    if c.questions:
        parts.append(f"{c.questions} question{'s' if c.questions != 1 else ''}")
    if core is None or core.minutes == c.minutes:
        return f"Reading time: about {c.minutes} min ({', '.join(parts)})"
    return (f"Reading time: core {core.minutes} min · all {c.minutes} min "
            f"({', '.join(parts)}; the core leaves out the deep dives)")


def _tags(node: nodes.Node) -> set[str]:
    if isinstance(node, nodes.container) and node.get("nb_element") == "cell_code":
        return set(node.get("cell_metadata", {}).get("tags", []))
    return set()


def _continues_deep_dive(node: nodes.Node) -> bool:
    """A node that belongs to the deep-dive box before it: a code cell tagged ``deep-dive``
    or a ``{container} deep-dive`` of prose."""
    if DEEP_DIVE in _tags(node):
        return True
    return (isinstance(node, nodes.container) and node.get("nb_element") is None
            and DEEP_DIVE in node.get("classes", []))


def _invisible(node: nodes.Node) -> bool:
    """A cell the page does not show (its output is glued elsewhere, or nothing)."""
    return bool({"remove-cell", "remove-input"} & _tags(node)) and not node.astext().strip()


def gather_deep_dives(doctree: nodes.document) -> None:
    """Move the deep-dive cells and containers that follow a deep-dive box into it."""
    for box in list(doctree.findall(_deep_dive)):
        parent, moved = box.parent, []
        for sibling in parent.children[parent.index(box) + 1:]:
            if _continues_deep_dive(sibling):
                moved.append(sibling)
            elif not _invisible(sibling):
                break
        for node in moved:
            parent.remove(node)
            box.append(node)
    for node in doctree.findall(_continues_deep_dive):
        if not any(_deep_dive(p) for p in _ancestors(node)):
            logger.warning("reading-time: a deep-dive cell or container must follow a "
                           "deep-dive box (or another deep-dive cell)", location=node)


def check_deep_dives(doctree: nodes.document) -> None:
    """Warn about a deep-dive box that is not collapsed or not titled "Deep dive: ..."."""
    for node in doctree.findall(_deep_dive):
        title = _title_of(node)
        if "dropdown" not in node.get("classes", []) or not title.startswith(DEEP_DIVE_TITLE):
            logger.warning(f"reading-time: a deep-dive box must be collapsed (:class: dropdown "
                           f"deep-dive) and titled {DEEP_DIVE_TITLE!r}...; found {title!r}",
                           location=node)


def on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    """Count the page, remember it, and show its reading time under the title."""
    env = app.env
    gather_deep_dives(doctree)
    check_deep_dives(doctree)
    c, core = count(doctree), count(doctree, core=True)
    if not hasattr(env, "mlpbook_reading"):
        env.mlpbook_reading = {}
    env.mlpbook_reading[env.docname] = {"all": asdict(c), "core": asdict(core)}
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None or not section.children or not isinstance(section[0], nodes.title):
        return
    note = nodes.paragraph("", "", nodes.emphasis("", describe(c, core)),
                           classes=["reading-time"])
    section.insert(1, note)
    if any(True for _ in doctree.findall(reading_time_ref)):
        if not hasattr(env, "mlpbook_reading_users"):
            env.mlpbook_reading_users = set()
        env.mlpbook_reading_users.add(env.docname)


def reading_time_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    node = reading_time_ref(rawtext, "?", target=text.strip())
    node.source, node.line = inliner.document.current_source, lineno
    return [node], []


def _pages(env: BuildEnvironment, docname: str, target: str) -> list[str] | None:
    """The docnames a role target names, or None if it names nothing."""
    if target.startswith("part:"):
        caption = target[len("part:"):].strip()
        site_map = getattr(env, "external_site_map", None)
        if site_map is None:
            return None
        for tree in site_map.root.subtrees:
            if (tree.caption or "").startswith(caption):
                return tree.files()
        return None
    doc = target if target.startswith("/") else posixpath.join(posixpath.dirname(docname), target)
    doc = posixpath.normpath(doc).lstrip("/")
    return [doc] if doc in env.found_docs else None


def on_doctree_resolved(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Replace each ``{reading-time}`` by the minutes of the pages it names."""
    times = getattr(app.env, "mlpbook_reading", {})
    for node in list(doctree.findall(reading_time_ref)):
        target, kind = node["target"], "all"
        if target.startswith("core:"):
            target, kind = target[len("core:"):].strip(), "core"
        pages = _pages(app.env, docname, target)
        if pages is None or any(p not in times for p in pages):
            logger.warning(f"reading-time: {node['target']!r} names no page (or a page with no "
                           "reading time)", location=node)
            node.replace_self(nodes.Text("?"))
            continue
        total = sum(Counts(**times[p][kind]).minutes for p in pages)
        node.replace_self(nodes.Text(str(total)))


def on_env_get_updated(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Pages that sum other pages' times are re-written every build (they are few and cheap)."""
    return sorted(getattr(env, "mlpbook_reading_users", set()) & set(env.found_docs))


def on_env_purge_doc(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    getattr(env, "mlpbook_reading", {}).pop(docname, None)
    getattr(env, "mlpbook_reading_users", set()).discard(docname)


def on_env_merge_info(app: Sphinx, env: BuildEnvironment, docnames, other: BuildEnvironment) -> None:
    if not hasattr(env, "mlpbook_reading"):
        env.mlpbook_reading = {}
    env.mlpbook_reading.update(getattr(other, "mlpbook_reading", {}))
    if not hasattr(env, "mlpbook_reading_users"):
        env.mlpbook_reading_users = set()
    env.mlpbook_reading_users |= getattr(other, "mlpbook_reading_users", set())


def _visit_placeholder(self, node: reading_time_ref) -> None:  # never reached: resolved first
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict:
    app.add_node(reading_time_ref, html=(_visit_placeholder, None))
    app.add_role("reading-time", reading_time_role)
    app.connect("doctree-read", on_doctree_read)
    app.connect("doctree-resolved", on_doctree_resolved)
    app.connect("env-get-updated", on_env_get_updated)
    app.connect("env-purge-doc", on_env_purge_doc)
    app.connect("env-merge-info", on_env_merge_info)
    return {"version": "0.1", "env_version": 2, "parallel_read_safe": True,
            "parallel_write_safe": True}
