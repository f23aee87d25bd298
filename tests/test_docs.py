"""The README is for users (short), the maintainers' guide in docs/ holds the design, and the
generated tables live in the guide's files, each between its markers."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import readme  # noqa: E402

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Guide files that may be linked before they exist: none (every branch is merged).
ELSEWHERE: set[str] = set()


def test_readme_is_for_users() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    for heading in ("## Two commands", "## Other targets", "## Publishing and Colab",
                    "## Homework and grading", "## Layout"):
        assert heading in text, heading
    for target in ("make book", "make test", "make check", "make preview", "make bench",
                   "make mutate", "make grade", "make publish", "make clean"):
        assert target in text, target
    assert "docs/recipes.md" in text and "docs/README.md" in text


@pytest.mark.parametrize("doc", ["README.md", *sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
def test_links_between_the_readme_and_the_guide_resolve(doc: str) -> None:
    base = (ROOT / doc).parent
    for target in LINK.findall((ROOT / doc).read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # a URL
        path = (base / target).resolve()
        rel = path.relative_to(ROOT.resolve()).as_posix()
        assert path.exists() or rel in ELSEWHERE, f"{doc} links to {target}, which does not exist"


def test_the_guide_lists_every_recipe() -> None:
    recipes = (ROOT / "docs" / "recipes.md").read_text(encoding="utf-8")
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    for anchor in ("a-new-activation-or-engine-op", "a-new-section", "a-new-lab-exercise",
                   "a-changed-number-or-figure", "a-new-page"):
        title = anchor.replace("-", " ")
        assert re.search(rf"^## {title}$", recipes, re.MULTILINE | re.IGNORECASE), title
        assert f"recipes.md#{anchor}" in index, anchor


@pytest.mark.parametrize("section", sorted(readme.SECTIONS))
def test_each_generated_section_has_one_home(section: str) -> None:
    assert readme.read_section(section) is not None  # exactly one pair of markers
    begin, _ = readme.markers(section)
    assert begin not in (ROOT / "README.md").read_text(encoding="utf-8")


def test_update_section_rewrites_only_between_the_markers(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "benchmarks.md"
    doc.write_text("before\n<!-- begin:bench -->\nold\n<!-- end:bench -->\nafter\n")
    assert readme.update_section("bench", "| new |\n", tmp_path) == doc
    assert doc.read_text() == "before\n<!-- begin:bench -->\n| new |\n<!-- end:bench -->\nafter\n"
    doc.write_text("no markers\n")
    with pytest.raises(ValueError, match="exactly one"):
        readme.update_section("bench", "x", tmp_path)
    with pytest.raises(ValueError, match="section must be one of"):
        readme.update_section("nonsense", "x", tmp_path)
