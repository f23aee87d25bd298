"""Local Sphinx extension: ``{lab-exercises}``, the lab's exercises as a table, from its manifest.

The instructor guide's table of the lab (exercise, the lecture section it follows, its
self-checks, the names a student hands in) is generated from the lab page itself
(``tools/grade_lab.manifest``: its ``exercise-start`` labels and ``grader`` cells), so a new
exercise appears there without editing the guide. "Follows" is the first ``{ref}``/``{doc}``
in the exercise's statement (outside its code cells). The page depends on the lab page and its solutions file.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

TOOLS = Path(__file__).resolve().parent.parent
ROLE = re.compile(r"\{(?:ref|doc)\}`[^`]+`")


def _follows(page: str, label: str) -> str:
    """The first cross-reference in the statement of exercise ``label`` (before its code)."""
    start = page.find(f":label: {label}")
    if start < 0:
        return "—"
    body = page[start:].split("{exercise-end}", 1)[0]
    prose = re.sub(r"```\{code-cell\}.*?\n```", "", body, flags=re.DOTALL)  # not code
    m = ROLE.search(prose)
    return m.group(0) if m else "—"


class LabExercises(SphinxDirective):
    """``{lab-exercises}`` (optional argument: the lab page's docname, default ``book/lab``)."""

    optional_arguments = 1

    def run(self):
        sys.path.insert(0, str(TOOLS))
        from grade_lab import manifest
        from solutions import solutions_path

        docname = self.arguments[0] if self.arguments else "book/lab"
        path = Path(self.env.doc2path(docname))
        self.env.note_dependency(str(path))
        self.env.note_dependency(str(solutions_path(path)))
        page = path.read_text(encoding="utf-8")
        lines = ["| Exercise | Follows | Self-checks | Names handed in |", "|---|---|---|---|"]
        for ex in manifest(path):
            checks = ", ".join(f"`{c}`" for c in ex["checks"]) or "—"
            names = ", ".join(f"`{n}`" for n in ex["names"]) or "—"
            lines.append(f"| {{ref}}`{ex['label']}` | {_follows(page, ex['label'])} | {checks} | "
                         f"{names} |")
        return self.parse_text_to_nodes("\n".join(lines))


def setup(app: Sphinx) -> dict:
    app.add_directive("lab-exercises", LabExercises)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
