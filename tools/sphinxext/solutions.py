"""Solutions kept in their own folder: ``book/solutions/<page>.md`` beside ``book/<page>.md``.

A page's solution blocks (``{solution-start} <exercise label>`` ... ``{solution-end}``) can live in
``book/solutions/<page>.md`` instead of the page, so that a public repository (what Colab and
the notebooks' install need) holds none while the instructor's private copy holds them all.
``page_text`` is the one reading of a page: its file, with each solution block of its
solutions file put back right after the ``{exercise-end}`` of the exercise it names. Without
the folder, the page is read as it is: the student edition, with nothing missing around the
removed solutions. The build (execution, freshness, Sphinx via ``source-read``), the Colab
converter and the grader all read pages through it. No import of Sphinx here: the tools use it.
"""

from __future__ import annotations

import re
from pathlib import Path

FOLDER = "solutions"  # book/solutions/<page>.md
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}\s*(?P<arg>.*)$")


def solutions_path(page: Path) -> Path:
    """Where the solutions of ``page`` live (they may not exist)."""
    return page.parent / FOLDER / page.name


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """The solution blocks of a solutions file: ``(exercise label, lines)`` in order."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or m["name"] != "solution-start":
            i += 1
            continue
        start, label, j = i, m["arg"].strip(), i + 1
        while j < len(lines):
            end = _FENCE.match(lines[j])
            if end and end["name"] == "solution-end":
                while j + 1 < len(lines) and lines[j + 1].strip() != end["fence"]:
                    j += 1
                j += 1
                break
            j += 1
        else:
            raise ValueError(f"solutions line {start + 1}: solution-start without a solution-end")
        out.append((label, lines[start:j + 1]))
        i = j + 1
    return out


def merge(page: str, solutions: str) -> str:
    """``page`` with each block of ``solutions`` after the end of the exercise it names.

    ValueError names a block whose exercise the page does not have."""
    lines = page.splitlines()
    ends: dict[str, int] = {}  # exercise label -> index of the line closing its exercise-end
    label = None
    for i, line in enumerate(lines):
        m = _FENCE.match(line)
        if m and m["name"] == "exercise-start":
            found = next((ln.split(":label:", 1)[1].strip() for ln in lines[i + 1:i + 4]
                          if ln.startswith(":label:")), None)
            label = found
        elif m and m["name"] == "exercise-end" and label:
            j = i + 1
            while j < len(lines) and lines[j].strip() != m["fence"]:
                j += 1
            ends[label] = j
    inserts: dict[int, list[str]] = {}
    for target, block in _blocks(solutions):
        if target not in ends:
            raise ValueError(f"a solution for {target!r}, an exercise the page does not have "
                             f"(it has {', '.join(ends) or 'none'})")
        inserts.setdefault(ends[target], []).extend(["", *block])
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        out += inserts.get(i, [])
    return "\n".join(out) + ("\n" if page.endswith("\n") else "")


def page_text(page: Path) -> str:
    """A page as the build, the converter and the grader read it (with its solutions, where
    ``book/solutions/`` has them)."""
    text = page.read_text(encoding="utf-8")
    extra = solutions_path(page)
    if extra.is_file():
        text = merge(text, extra.read_text(encoding="utf-8"))
    return text
