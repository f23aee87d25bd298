"""Local Sphinx extension: the site in two editions, with solutions or without.

``mlpbook_solutions: show`` (the default, set under ``sphinx: config:`` in ``_config.yml``) builds
the self-study and instructor edition, with every solution collapsed under its exercise.
``hide`` builds the student edition for graded homework: no solution content anywhere in the
site. The environment variable ``SOLUTIONS`` overrides the setting (``make book SOLUTIONS=hide``).

What "no solution content" covers, and how:

- **The pages.** Everything sphinx-exercise gathers into a solution (prose, code cells, their
  outputs, figures and glued numbers, between ``{solution-start}`` and ``{solution-end}``, or in
  a ``{solution}`` directive) is removed from the doctree by a transform that runs right after
  sphinx-exercise merges the gated markers, before Sphinx records labels, images and search
  terms. (sphinx-exercise's own ``hide_solutions`` crashes on the gated syntax and would leave
  the cells between the markers.)
- **Labels.** The names of everything removed (the solution's own label, a figure's ``name``, a
  ``(target)=``) are forgotten by the page before Sphinx records its labels, so no label of the
  student edition points at removed content (``objects.inv`` would otherwise list a solution
  figure with its caption), and a reference to one outside a solution fails the build. What
  was removed is kept in ``env.mlpbook_removed`` (``removed_targets``) for the Colab converter,
  whose instructor notebook still holds it.
- **The search index**, built from those doctrees, never sees the removed text.
- **The page sources** that Sphinx and the theme copy into ``_sources/`` (the ``.md`` download
  and the executed ``.ipynb``) are rewritten without the solution blocks.
- **Images** left in ``_images/`` by an earlier build of the other edition are removed.

Switching edition re-renders every page: ``mlpbook_solutions`` is a config value with
``rebuild="env"``, and it is resolved (with ``SOLUTIONS``) at ``config-inited``, before Sphinx
compares the configuration with the one its saved environment was built with.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
CONFIG_NAME = "mlpbook_solutions"
ENV_NAME = "SOLUTIONS"
EDITIONS = ("show", "hide")

# A MyST directive's opening fence: ```{name} arg  or  :::{name} arg
DIRECTIVE = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}")


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` is a closing fence for an opening ``fence``."""
    stripped = line.strip()
    return (len(stripped) >= len(fence) and set(stripped) == {fence[0]})


def solution_spans(text: str) -> list[tuple[int, int]]:
    """Line ranges ``[start, end)`` of every solution block of a MyST page.

    A gated solution runs from its ``{solution-start}`` line to the closing fence of its
    ``{solution-end}``; a ``{solution}`` directive to its own closing fence.
    """
    lines = text.splitlines()
    spans, i = [], 0
    while i < len(lines):
        m = DIRECTIVE.match(lines[i])
        if not m or m["name"] not in ("solution", "solution-start"):
            i += 1
            continue
        start, j = i, i + 1
        if m["name"] == "solution":
            while j < len(lines) and not _closes(lines[j], m["fence"]):
                j += 1
        else:
            while j < len(lines):
                end = DIRECTIVE.match(lines[j])
                if end and end["name"] == "solution-end":
                    j += 1
                    while j < len(lines) and not _closes(lines[j], end["fence"]):
                        j += 1
                    break
                j += 1
            else:
                raise ValueError(f"line {start + 1}: solution-start without a solution-end")
        spans.append((start, min(j + 1, len(lines))))
        i = j + 1
    return spans


def strip_solutions(text: str) -> str:
    """A MyST page without its solution blocks (markers, prose and code cells).

    Where a block was, the blank lines around it shrink to one; nothing else changes (a code
    cell keeps its own blank lines)."""
    out: list[str] = []
    for part, inside in page_parts(text):
        if inside:
            continue
        lines = part.splitlines()
        if out and not out[-1].strip():  # a seam: one blank line between what was around it
            while lines and not lines[0].strip():
                lines.pop(0)
        out += lines
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def solution_texts(text: str) -> list[str]:
    """The text of each solution block of a MyST page (for tests and tools)."""
    lines = text.splitlines()
    return ["\n".join(lines[a:b]) for a, b in solution_spans(text)]


def page_parts(text: str) -> list[tuple[str, bool]]:
    """A MyST page cut at the edges of its solution blocks: ``(text, in_solution)``, in order."""
    lines = text.splitlines()
    parts, last = [], 0
    for start, end in solution_spans(text):
        parts += [(lines[last:start], False), (lines[start:end], True)]
        last = end
    parts.append((lines[last:], False))
    return [("\n".join(part) + "\n", inside) for part, inside in parts if any(part)]


def page_cells(text: str) -> list[tuple[Any, bool]]:
    """The cells of a MyST page as jupytext reads them (``nbformat`` cells), each with whether
    it lies in a solution block. The one reading of a page's solutions that the Colab
    converter (which notebook gets a cell) and the grader (which cells are the lab's given
    code) share with the student edition (what ``strip_solutions`` removes)."""
    import jupytext

    return [(cell, inside) for part, inside in page_parts(text)
            for cell in jupytext.reads(part, fmt="md:myst").cells]


def choose_edition(app: Sphinx, config: Config) -> None:
    """config-inited: resolve the edition from ``SOLUTIONS`` or the configuration."""
    value = os.environ.get(ENV_NAME, "").strip() or str(config[CONFIG_NAME])
    value = value.strip().lower()
    if value not in EDITIONS:
        raise ConfigError(f"{ENV_NAME} (or {CONFIG_NAME} in _config.yml) must be 'show' or "
                          f"'hide', got {value!r}")
    config[CONFIG_NAME] = value
    LOGGER.info("[editions] %s edition: solutions %s", "student" if value == "hide" else
                "instructor/self-study", "removed" if value == "hide" else "shown")


ENV_REMOVED = "mlpbook_removed"  # env attribute: docname -> {label: RemovedTarget}


@dataclass(frozen=True)
class RemovedTarget:
    """A label the student edition removed with its solution: what it named, and its title."""

    kind: str  # the node it named: figure, table, literal_block, math_block, section, ...
    title: str = ""  # a section's title or a figure's caption ("" if none)


def removed_targets(env) -> dict[str, dict[str, RemovedTarget]]:
    """``docname -> {label: RemovedTarget}``: what the student edition removed (empty in the
    instructor edition)."""
    return getattr(env, ENV_REMOVED, {})


def _describe(node) -> RemovedTarget:
    """What a removed label named (a target names the node that follows it)."""
    from docutils import nodes

    if isinstance(node, nodes.target) and node.parent is not None:
        siblings = node.parent.children
        after = siblings[siblings.index(node) + 1:]
        node = next((n for n in after if not isinstance(n, nodes.target)), node)
    title = ""
    if isinstance(node, nodes.section) and node.children:
        title = node[0].astext()
    elif isinstance(node, (nodes.figure, nodes.table)):
        caption = next(iter(node.findall(nodes.caption)), None) or next(
            iter(node.findall(nodes.title)), None)
        title = caption.astext() if caption is not None else ""
    return RemovedTarget(node.tagname, " ".join(title.split()))


class RemoveSolutions(SphinxTransform):
    """In the student edition, drop every solution node with all it contains, and the labels
    of what it contains (recorded in ``env.mlpbook_removed``)."""

    default_priority = 11  # sphinx-exercise merges gated solutions at priority 10

    def apply(self, **kwargs) -> None:
        removed = removed_targets(self.env)
        setattr(self.env, ENV_REMOVED, removed)
        removed.pop(self.env.docname, None)
        if self.config[CONFIG_NAME] != "hide":
            return
        from docutils import nodes
        from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node

        doc = self.document
        found: dict[str, RemovedTarget] = {}
        for node in list(doc.findall(solution_node)):
            gone = {i: n for n in node.findall(nodes.Element) for i in n["ids"]}
            for name, ref in list(doc.nameids.items()):
                if ref in gone:
                    found[name] = _describe(gone[ref])
                    del doc.nameids[name]
                    doc.nametypes.pop(name, None)
            for i in gone:
                doc.ids.pop(i, None)
            node.parent.remove(node)
        if found:
            removed[self.env.docname] = found
        stray = list(self.document.findall(solution_start_node)) + list(
            self.document.findall(solution_end_node))
        if stray:
            raise ConfigError(f"{self.env.docname}: a solution-start or solution-end without "
                              "its partner; the student edition cannot tell what to remove")


def add_solutions(app: Sphinx, docname: str, source: list[str]) -> None:
    """source-read: a page with its solutions from ``book/solutions/`` (``solutions.page_text``),
    which the page depends on from now on; without the folder, the page as it is."""
    from solutions import merge, solutions_path

    extra = solutions_path(Path(app.env.doc2path(docname)))
    if extra.is_file():
        app.env.note_dependency(str(extra))
        source[0] = merge(source[0], extra.read_text(encoding="utf-8"))


def clean_output(app: Sphinx, exception: Exception | None) -> None:
    """build-finished (student edition): sources without solutions, no stale images."""
    if exception is not None or app.config[CONFIG_NAME] != "hide" or app.builder.format != "html":
        return
    from solutions import page_text

    out = Path(app.outdir)
    for docname in sorted(app.env.found_docs):
        source = Path(app.env.doc2path(docname))
        text = page_text(source) if source.suffix == ".md" else ""  # with book/solutions/
        if not solution_spans(text):
            continue
        stripped = strip_solutions(text)
        for copy in (out / "_sources").glob(f"{docname}.*"):
            if copy.suffix == ".ipynb":
                import jupytext

                copy.write_text(jupytext.writes(jupytext.reads(stripped, fmt="md:myst"),
                                                fmt="ipynb"), encoding="utf-8")
            else:
                copy.write_text(stripped, encoding="utf-8")
    images = out / "_images"
    if images.is_dir():
        current = {unique for _, unique in app.env.images.values()}
        for path in images.iterdir():
            if path.is_file() and path.name not in current:
                path.unlink()


def purge_removed(app: Sphinx, env, docname: str) -> None:
    """env-purge-doc: forget what was removed from a page that is re-read or gone."""
    removed_targets(env).pop(docname, None)


def merge_removed(app: Sphinx, env, docnames: set[str], other) -> None:
    """env-merge-info (parallel reads): gather what each reader removed."""
    mine = removed_targets(env)
    setattr(env, ENV_REMOVED, mine)
    mine.update({d: t for d, t in removed_targets(other).items() if d in docnames})


def setup(app: Sphinx) -> dict:
    app.add_config_value(CONFIG_NAME, "show", "env", types=[str])
    app.connect("config-inited", choose_edition)
    app.connect("source-read", add_solutions)
    app.connect("env-purge-doc", purge_removed)
    app.connect("env-merge-info", merge_removed)
    app.add_transform(RemoveSolutions)
    app.connect("build-finished", clean_output)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
