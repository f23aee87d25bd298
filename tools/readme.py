"""Generated sections of the maintainers' guide: tools write their tables between named markers.

A section is the text between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` in the one file
``SECTIONS`` names for it (``docs/benchmarks.md`` for ``bench``, ``docs/mutation.md`` for
``mutation``); ``make bench`` and ``make mutate`` rewrite theirs from ``bench/*.json`` so that no
figure is copied by hand. (The module keeps its name: the tables lived in README.md before the
guide existed.)
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Which file holds each generated section, relative to the repository's root.
SECTIONS = {"bench": "docs/benchmarks.md", "mutation": "docs/mutation.md"}


def markers(section: str) -> tuple[str, str]:
    """The begin and end comments of a generated section."""
    return f"<!-- begin:{section} -->", f"<!-- end:{section} -->"


def section_path(section: str, root: Path = ROOT) -> Path:
    """The file that holds ``section``; ValueError for a section no file is named for."""
    if section not in SECTIONS:
        raise ValueError(f"section must be one of {sorted(SECTIONS)}, got {section!r}")
    return root / SECTIONS[section]


def read_section(section: str, root: Path = ROOT) -> str:
    """The body of ``section`` as it is now (between its markers, without them)."""
    begin, end = markers(section)
    text = section_path(section, root).read_text(encoding="utf-8")
    if text.count(begin) != 1 or text.count(end) != 1:
        raise ValueError(f"{SECTIONS[section]} must hold exactly one {begin} ... {end} pair")
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n")


def update_section(section: str, markdown: str, root: Path = ROOT) -> Path:
    """Replace the body of ``section`` in its file with ``markdown``; return the file.

    Raises ValueError when the markers are missing, so a renamed section is never silently
    appended or skipped.
    """
    path = section_path(section, root)
    text = path.read_text(encoding="utf-8")
    begin, end = markers(section)
    pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.DOTALL)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"{SECTIONS[section]} must hold exactly one {begin} ... {end} pair")
    body = markdown.strip("\n")
    path.write_text(pattern.sub(lambda _: f"{begin}\n{body}\n{end}", text), encoding="utf-8")
    return path


update_readme = update_section  # the name tools/bench.py and tools/mutate.py import
