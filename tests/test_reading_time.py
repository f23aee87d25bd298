"""The reading time the build computes for each page (tools/sphinxext/reading_time.py)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SITE_ROOT
from docutils.core import publish_doctree

sys.path.insert(0, str(ROOT / "tools" / "sphinxext"))
import reading_time as rt  # noqa: E402


def doctree(rst: str):
    return publish_doctree(rst, settings_overrides={"report_level": 5})


def test_counts_prose_code_equations_and_questions() -> None:
    tree = doctree("""
Title
=====

One two three four five.

.. code-block:: python

   a = 1

   b = 2

.. math::

   e = mc^2

.. admonition:: Predict first

   What does six seven print?

.. admonition:: Answer
   :class: dropdown

   Eight.

.. admonition:: Self-check
   :class: note not-a-question

   Only an example box.
""")
    c = rt.count(tree)
    assert c.code_lines == 2  # blank lines are not counted
    assert c.equations == 1
    assert c.questions == 1  # "Predict first"; the example box is not a question
    # the title, the paragraph, the admonitions' titles and bodies; no code, no maths
    words = ("Title One two three four five Predict first What does six seven print "
             "Answer Eight Self-check Only an example box")
    assert c.words == len(words.split())


def test_minutes_follow_the_stated_rates() -> None:
    c = rt.Counts(words=2 * rt.WORDS_PER_MINUTE, code_lines=rt.CODE_LINES_PER_MINUTE,
                  equations=4, questions=3)
    expected = 2 + 1 + 4 * rt.MINUTES_PER_EQUATION + 3 * rt.MINUTES_PER_QUESTION
    assert c.minutes == round(expected)
    assert rt.Counts().minutes == 1  # never "0 min"


def test_intro_states_the_rates_the_build_uses() -> None:
    """The intro explains how the time is counted; its numbers are the extension's."""
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    assert f"prose at {rt.WORDS_PER_MINUTE} words a minute" in intro
    assert f"at {60 // rt.CODE_LINES_PER_MINUTE} seconds" in intro
    assert rt.MINUTES_PER_QUESTION == 1 and "a minute for every\nquestion" in intro
    assert "{reading-time}`part:Lecture`" in intro


@pytest.mark.book
def test_every_page_shows_its_reading_time_and_the_intro_sums_them(built_book: Path) -> None:
    import yaml

    shown = {}
    for html in sorted((built_book / "book").glob("*.html")):
        text = html.read_text(encoding="utf-8")
        m = re.search(r'class="reading-time"><em>Reading time: about (\d+) min', text)
        assert m, f"{html.name} shows no reading time"
        shown[f"book/{html.stem}"] = int(m[1])
    toc = yaml.safe_load((SITE_ROOT / "_toc.yml").read_text(encoding="utf-8"))
    [lecture] = [p for p in toc["parts"] if p["caption"].startswith("Lecture")]
    total = sum(shown[c["file"]] for c in lecture["chapters"])
    intro = (built_book / "book" / "intro.html").read_text(encoding="utf-8")
    assert re.search(rf"Together they take\s+about {total} minutes", intro), \
        f"the intro does not state the lecture's total of {total} minutes"
    for page in ("recap", "layer-backprop", "practice"):
        assert f"({shown['book/' + page]} min)" in intro, page
