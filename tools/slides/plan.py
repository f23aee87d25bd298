"""The lesson plan's blocks (``book/lesson-plan.md``): session, start, end, title, minutes.

A deck names the block it serves by its title in the plan; its time comes from here, so a block
moved in the plan moves the deck in the index and its clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# "### 0:25–1:10 · The multilayer perceptron (45 min)", under "## Lecture ..." or "## Practice"
BLOCK = re.compile(r"^### (\d+:\d\d)–(\d+:\d\d) · (.+?) \((\d+) min\)\s*$")
SESSION = re.compile(r"^## (Lecture|Practice)\b")


def minutes(clock: str) -> int:
    """``"1:20"`` -> 80."""
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


def clock(total: int) -> str:
    """80 -> ``"1:20"``."""
    return f"{total // 60}:{total % 60:02d}"


@dataclass(frozen=True)
class Block:
    session: str  # "lecture" or "practice"
    start: int  # minutes from the start of the session
    end: int
    title: str
    length: int  # minutes, as the plan states them

    @property
    def times(self) -> str:
        return f"{clock(self.start)}–{clock(self.end)}"


def read_plan(path: Path) -> list[Block]:
    """Every timed block of the plan, in order."""
    blocks: list[Block] = []
    session = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            found = SESSION.match(line)
            session = found.group(1).lower() if found else None
            continue
        found = BLOCK.match(line)
        if found and session:
            start, end, title, length = found.groups()
            blocks.append(Block(session, minutes(start), minutes(end), title, int(length)))
    return blocks


def normalise(title: str) -> str:
    return re.sub(r"\s+", " ", title.replace("&", "and")).strip().lower()


def blocks_named(plan: list[Block], session: str, title: str) -> list[Block]:
    """The blocks of ``session`` called ``title`` (``&`` and ``and`` alike); one at least."""
    found = [b for b in plan if b.session == session and normalise(b.title) == normalise(title)]
    if not found:
        names = ", ".join(repr(b.title) for b in plan if b.session == session)
        raise LookupError(f"the lesson plan has no {session} block {title!r} (it has {names})")
    return found
