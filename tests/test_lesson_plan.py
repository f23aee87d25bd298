"""Every block of the lesson plan's lecture is served by a page or section of the book.

The lesson plan is part of the repository (``book/lesson-plan.md``, a page of the book); these
tests read it from there, never from outside the repository.
"""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import ROOT
from pages import book_pages

PLAN = ROOT / "book" / "lesson-plan.md"
# A block of a session: "### 0:25–1:10 · The multilayer perceptron (45 min)".
BLOCK = re.compile(r"^### (\d:\d\d)–(\d:\d\d) · (.+?) \((\d+) min\)\s*$", re.MULTILINE)

# Lecture block (start time in the plan) -> the labels of the sections that serve it.
LECTURE = {
    "0:00": ("Recap & retrieval", ["page-recap", "sec-recap-questions", "sec-recap-objectives"]),
    "0:10": ("Motivation", ["page-motivation", "sec-motivation-linear-fails",
                            "sec-motivation-relu-solves", "sec-motivation-bumps",
                            "sec-motivation-learning"]),
    "0:25": ("The multilayer perceptron", ["page-mlp", "sec-mlp-activations",
                                           "sec-mlp-nonlinearity", "sec-mlp-module",
                                           "sec-mlp-call", "sec-mlp-capacity"]),
    "1:10": ("Break", ["sec-instructor-break"]),
    "1:20": ("Backpropagation and autograd", ["page-backprop", "sec-backprop-graph",
                                              "sec-backprop-chain-rule", "sec-backprop-engine",
                                              "sec-backprop-check", "sec-backprop-paths",
                                              "sec-backprop-misconception",
                                              "page-layer-backprop", "sec-layer-graph",
                                              "sec-layer-linear", "sec-layer-shapes",
                                              "sec-layer-activation", "sec-layer-loss",
                                              "sec-layer-two-layer", "sec-layer-vanishing",
                                              "page-autograd", "sec-autograd-grad-fn",
                                              "sec-autograd-backward", "sec-autograd-step",
                                              "sec-autograd-accumulate",
                                              "sec-autograd-gradcheck"]),
    "2:05": ("Live demo", ["page-live-demo", "sec-demo-accumulate", "sec-demo-zero-grad",
                           "sec-demo-hand-gradient"]),
    "2:35": ("Wrap-up", ["page-wrap-up", "sec-wrap-up-misconception", "sec-wrap-up-checks",
                         "sec-wrap-up-takeaways", "sec-wrap-up-preview"]),
    "2:50": ("Buffer & questions", ["sec-instructor-buffer"]),
}
OTHER = {
    "learning objectives": ["page-intro", "sec-intro-objectives"],
    "misconception": ["sec-backprop-misconception", "sec-wrap-up-misconception",
                      "sec-instructor-misconception"],
    "predict-then-run prompts": ["sec-instructor-predict"],
    "timetable": ["page-instructor", "sec-instructor-lecture"],
    "the plan itself": ["page-lesson-plan", "sec-plan-lecture", "sec-plan-practice"],
}
LABEL = re.compile(r"^\((?P<label>[\w-]+)\)=\s*$", re.MULTILINE)


def source_labels() -> dict[str, str]:
    """Every `(label)=` target in the TOC's pages -> the page's docname."""
    return {m["label"]: page.docname for page in book_pages()
            for m in LABEL.finditer(page.text)}


def plan_blocks(session: str) -> list[tuple[str, str, str, int]]:
    """(start, end, title, minutes) of each block of ``session`` ("Lecture" or "Practice")."""
    text = PLAN.read_text(encoding="utf-8")
    part = re.split(r"^## ", text, flags=re.MULTILINE)
    [body] = [p for p in part if p.startswith(session)]
    return [(m[1], m[2], m[3], int(m[4])) for m in BLOCK.finditer(body)]


def minutes(clock: str) -> int:
    h, m = clock.split(":")
    return 60 * int(h) + int(m)


@pytest.mark.parametrize("session, total", [("Lecture", 180), ("Practice", 120)])
def test_plan_blocks_are_contiguous(session: str, total: int) -> None:
    """The plan's timetable is consistent: blocks follow each other, lengths add up."""
    blocks = plan_blocks(session)
    assert blocks, f"no blocks found under '## {session}' in {PLAN.name}"
    assert blocks[0][0] == "0:00" and minutes(blocks[-1][1]) == total
    for (_, end, _, _), (start, _, title, _) in zip(blocks, blocks[1:]):
        assert start == end, f"{title!r} starts at {start}, the block before ends at {end}"
    for start, end, title, length in blocks:
        assert minutes(end) - minutes(start) == length, f"{title!r}: {start}–{end} is not {length} min"


def test_lecture_table_matches_the_plan() -> None:
    """The mapping covers exactly the lecture blocks of the lesson plan, with their titles."""
    blocks = plan_blocks("Lecture")
    assert [b[0] for b in blocks] == list(LECTURE), f"the plan's lecture blocks changed: {blocks}"
    for (start, _, title, _) in blocks:
        words = LECTURE[start][0].lower().split()[:2]
        assert " ".join(words) in title.lower(), f"block {start} is {title!r} in the plan"


@pytest.mark.parametrize("block", list(LECTURE))
def test_each_lecture_block_has_its_sections(block: str) -> None:
    labels = source_labels()
    title, wanted = LECTURE[block]
    missing = [lab for lab in wanted if lab not in labels]
    assert not missing, f"lecture block {block} {title!r}: no section labelled {missing}"


def test_every_lecture_page_serves_a_block_in_order() -> None:
    """Each page of the TOC's lecture part serves a block, and the pages follow the plan's order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    [lecture] = [p for p in toc["parts"] if p["caption"].startswith("Lecture")]
    pages = [c["file"] for c in lecture["chapters"]]
    block_of = {f"book/{lab[len('page-'):]}": i for i, (_, labs) in enumerate(LECTURE.values())
                for lab in labs if lab.startswith("page-")}
    unmapped = [p for p in pages if p not in block_of]
    assert not unmapped, f"lecture pages that serve no block of the plan: {unmapped}"
    order = [block_of[p] for p in pages]
    assert order == sorted(order), f"the lecture pages are not in the plan's order: {pages}"
    labels = source_labels()
    for page in pages:
        assert labels.get(f"page-{page.split('/')[1]}") == page, f"{page} lacks its page label"


def test_instructor_guide_links_the_plan_and_each_lecture_page() -> None:
    """The timetable points to every lecture page (the page itself or one of its sections)."""
    text = (ROOT / "book" / "instructor.md").read_text(encoding="utf-8")
    labels = source_labels()
    linked_docs = {f"book/{d}" for d in re.findall(r"\{doc\}`([^`]+)`", text)}
    linked_docs |= {labels[lab] for lab in re.findall(r"\{ref\}`([^`]+)`", text) if lab in labels}
    assert "book/lesson-plan" in linked_docs, "instructor.md never links the lesson plan"
    for _, wanted in LECTURE.values():
        for lab in wanted:
            if lab.startswith("page-"):
                assert labels[lab] in linked_docs, f"instructor.md never links {labels[lab]}"


def test_instructor_timetable_links_every_section_of_the_lecture_pages() -> None:
    """A section added to a lecture page gets its minutes in the instructor's timetable."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    [lecture] = [p for p in toc["parts"] if p["caption"].startswith("Lecture")]
    text = (ROOT / "book" / "instructor.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\{ref\}`(?:[^`<]*<)?([^`<>]+)>?`", text))
    labels = source_labels()
    missing = [lab for lab, doc in labels.items() if lab.startswith("sec-")
               and doc in {c["file"] for c in lecture["chapters"]} and lab not in linked]
    assert not missing, f"book/instructor.md's timetable does not link {missing}"


@pytest.mark.parametrize("topic", list(OTHER))
def test_other_lesson_plan_items_are_served(topic: str) -> None:
    labels = source_labels()
    missing = [lab for lab in OTHER[topic] if lab not in labels]
    assert not missing, f"{topic}: no section labelled {missing}"


@pytest.mark.book
def test_every_mapped_section_is_in_the_built_site(built_book) -> None:
    """Each label's page is in the site and the label is an anchor in it."""
    labels = source_labels()
    for block, (title, wanted) in LECTURE.items():
        for lab in wanted:
            html = (built_book / f"{labels[lab]}.html").read_text(encoding="utf-8")
            assert f'id="{lab}"' in html, f"{block} {title}: #{lab} not in {labels[lab]}.html"
