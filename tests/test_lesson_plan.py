"""Every block of the lesson plan's lecture is served by a page or section of the book."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT
from pages import book_pages

SEED = ROOT.parent / "shared" / "seed" / "000_f89d0b26cbdb1eaf.txt"

# Lecture block (start time in the seed's table) -> the labels of the sections that serve it.
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
}
LABEL = re.compile(r"^\((?P<label>[\w-]+)\)=\s*$", re.MULTILINE)


def source_labels() -> dict[str, str]:
    """Every `(label)=` target in the TOC's pages -> the page's docname."""
    return {m["label"]: page.docname for page in book_pages()
            for m in LABEL.finditer(page.text)}


def test_lecture_table_matches_the_seed() -> None:
    """The mapping covers exactly the lecture rows of the lesson plan."""
    seed = SEED.read_text(encoding="utf-8")
    lecture = seed.split("Lecture · 3 hours")[1].split("Common misconception")[0]
    starts = re.findall(r"^\| (\d:\d\d)–", lecture, re.MULTILINE)
    assert starts == list(LECTURE), f"the seed's lecture blocks changed: {starts}"


@pytest.mark.parametrize("block", list(LECTURE))
def test_each_lecture_block_has_its_sections(block: str) -> None:
    labels = source_labels()
    title, wanted = LECTURE[block]
    missing = [lab for lab in wanted if lab not in labels]
    assert not missing, f"lecture block {block} {title!r}: no section labelled {missing}"


@pytest.mark.parametrize("topic", list(OTHER))
def test_other_lesson_plan_items_are_served(topic: str) -> None:
    labels = source_labels()
    missing = [lab for lab in OTHER[topic] if lab not in labels]
    assert not missing, f"{topic}: no section labelled {missing}"


@pytest.mark.book
def test_every_mapped_section_is_in_the_built_site(built_book: Path) -> None:
    """Each label's page is in the site and the label is an anchor in it."""
    labels = source_labels()
    for block, (title, wanted) in LECTURE.items():
        for lab in wanted:
            html = (built_book / f"{labels[lab]}.html").read_text(encoding="utf-8")
            assert f'id="{lab}"' in html, f"{block} {title}: #{lab} not in {labels[lab]}.html"
