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
from pathlib import Path

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
    """A MyST page without its solution blocks (markers, prose and code cells)."""
    lines = text.splitlines()
    keep = [True] * len(lines)
    for start, end in solution_spans(text):
        keep[start:end] = [False] * (end - start)
    out = "\n".join(line for line, k in zip(lines, keep) if k)
    return re.sub(r"\n{3,}", "\n\n", out) + ("\n" if text.endswith("\n") else "")


def solution_texts(text: str) -> list[str]:
    """The text of each solution block of a MyST page (for tests and tools)."""
    lines = text.splitlines()
    return ["\n".join(lines[a:b]) for a, b in solution_spans(text)]


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


class RemoveSolutions(SphinxTransform):
    """In the student edition, drop every solution node with all it contains."""

    default_priority = 11  # sphinx-exercise merges gated solutions at priority 10

    def apply(self, **kwargs) -> None:
        if self.config[CONFIG_NAME] != "hide":
            return
        from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node

        for node in list(self.document.findall(solution_node)):
            node.parent.remove(node)
        stray = list(self.document.findall(solution_start_node)) + list(
            self.document.findall(solution_end_node))
        if stray:
            raise ConfigError(f"{self.env.docname}: a solution-start or solution-end without "
                              "its partner; the student edition cannot tell what to remove")


def clean_output(app: Sphinx, exception: Exception | None) -> None:
    """build-finished (student edition): sources without solutions, no stale images."""
    if exception is not None or app.config[CONFIG_NAME] != "hide" or app.builder.format != "html":
        return
    out = Path(app.outdir)
    for docname in sorted(app.env.found_docs):
        source = Path(app.env.doc2path(docname))
        text = source.read_text(encoding="utf-8") if source.suffix == ".md" else ""
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


def setup(app: Sphinx) -> dict:
    app.add_config_value(CONFIG_NAME, "show", "env", types=[str])
    app.connect("config-inited", choose_edition)
    app.add_transform(RemoveSolutions)
    app.connect("build-finished", clean_output)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
