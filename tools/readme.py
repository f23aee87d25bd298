"""Generated sections of README.md: tools write their tables between named markers.

A section is the text between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->``; ``make bench`` and
``make mutate`` rewrite theirs from ``bench/*.json`` so that no figure is copied by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def markers(section: str) -> tuple[str, str]:
    """The begin and end comments of a generated section."""
    return f"<!-- begin:{section} -->", f"<!-- end:{section} -->"


def update_readme(section: str, markdown: str, root: Path = ROOT) -> None:
    """Replace the body of ``section`` in ``root/README.md`` with ``markdown``.

    Raises ValueError when the markers are missing, so a renamed section is never silently
    appended or skipped.
    """
    path = root / "README.md"
    text = path.read_text(encoding="utf-8")
    begin, end = markers(section)
    pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.DOTALL)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"README.md must hold exactly one {begin} ... {end} pair")
    body = markdown.strip("\n")
    path.write_text(pattern.sub(lambda _: f"{begin}\n{body}\n{end}", text), encoding="utf-8")
