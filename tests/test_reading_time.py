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


DEEP = """
Title
=====

One two three.

.. admonition:: Predict first

   What is four?

.. admonition:: Deep dive: five six
   :class: dropdown deep-dive

   Seven eight nine ten.

   .. code-block:: python

      a = 1

   .. math::

      e = mc^2

   .. admonition:: Question 1

      Eleven?
"""


def test_core_leaves_out_deep_dives_and_all_counts_them() -> None:
    tree = doctree(DEEP)
    everything, core = rt.count(tree), rt.count(tree, core=True)
    assert (core.words, core.code_lines, core.equations, core.questions) == (
        len("Title One two three Predict first What is four".split()), 0, 0, 1)
    # the box's title and body, with what it asks; the box itself is not a question
    assert everything.words == core.words + len(
        "Deep dive five six Seven eight nine ten Question 1 Eleven".split())
    assert (everything.code_lines, everything.equations, everything.questions) == (1, 1, 2)


def test_the_line_under_the_title_shows_core_and_all() -> None:
    core = rt.Counts(words=400)
    everything = rt.Counts(words=1000, code_lines=20, questions=2)
    line = rt.describe(everything, core)
    assert line.startswith(f"Reading time: core {core.minutes} min · all {everything.minutes} min")
    assert "1,000 words, 20 lines of code, 2 questions" in line
    same = rt.describe(core, core)  # no deep dive: one number
    assert same == f"Reading time: about {core.minutes} min (400 words)"


def test_a_deep_dive_box_must_be_collapsed_and_titled(monkeypatch) -> None:
    warned = []
    monkeypatch.setattr(rt.logger, "warning", lambda msg, **kw: warned.append(msg))
    rt.check_deep_dives(doctree(DEEP))
    assert warned == []
    rt.check_deep_dives(doctree(DEEP.replace(":class: dropdown deep-dive", ":class: deep-dive")))
    rt.check_deep_dives(doctree(DEEP.replace("Deep dive: five six", "Five six")))
    assert len(warned) == 2 and all("deep-dive box must be collapsed" in w for w in warned)


def _cell(code: str, *tags: str):
    """A code cell as myst-nb puts it in the doctree: a container holding its source."""
    from docutils import nodes

    cell = nodes.container(nb_element="cell_code", cell_metadata={"tags": list(tags)})
    source = nodes.container(nb_element="cell_code_source")
    source += nodes.literal_block(code, code)
    cell += source
    return cell


def test_deep_dive_cells_that_follow_a_box_join_it() -> None:
    tree = doctree(DEEP + "\n.. container:: deep-dive\n\n   Twelve thirteen.\n\nFourteen.\n")
    box = next(iter(tree.findall(rt._deep_dive)))
    section = box.parent
    at = section.index(box) + 1
    section.insert(at, _cell("b = 2\nc = 3", "deep-dive"))
    section.insert(at + 1, _cell("", "remove-input"))  # invisible: may sit between
    section.append(_cell("d = 4"))  # after the prose "Fourteen": stays in the core
    rt.gather_deep_dives(tree)
    assert [n.tagname for n in box.children[-2:]] == ["container", "container"]
    assert box.children[-1].astext() == "Twelve thirteen."
    core, everything = rt.count(tree, core=True), rt.count(tree)
    assert (core.code_lines, everything.code_lines) == (1, 1 + 1 + 2)
    assert "Fourteen" not in box.astext()


def test_a_deep_dive_cell_after_core_prose_is_a_warning(monkeypatch) -> None:
    warned = []
    monkeypatch.setattr(rt.logger, "warning", lambda msg, **kw: warned.append(msg))
    tree = doctree(DEEP + "\nFourteen.\n")
    tree.append(_cell("d = 4", "deep-dive"))
    rt.gather_deep_dives(tree)
    assert len(warned) == 1 and "must follow a deep-dive box" in warned[0]


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
    assert rt.MINUTES_PER_QUESTION == 1 and "a minute for every question" in " ".join(intro.split())
    assert "{reading-time}`core:part:Lecture`" in intro  # the core path's total, computed
    assert "{reading-time}`part:Lecture`" in intro  # and everything, deep dives included
    # the map of the week shows each lecture page's core time, never a typed number
    rows = re.findall(r"^\| (Lecture \d:\d\d–\d:\d\d) \| \{doc\}`([\w-]+)` \((.+?)\)", intro,
                      re.MULTILINE)
    assert len(rows) >= 8, rows
    for _, page, time in rows:
        assert time == f"{{reading-time}}`core:{page}` min", (page, time)


# Issue 25: the lecture part's core path, what a student reads before the lecture, in minutes
# as the pages show them (the sum the intro states).
CORE_PATH_BUDGET = 45


SHOWN = re.compile(r'class="reading-time"><em>Reading time: '
                   r'(?:about (?P<one>\d+) min|core (?P<core>\d+) min · all (?P<all>\d+) min)')


def shown_times(built_book: Path) -> dict[str, tuple[int, int]]:
    """(core, all) minutes under each page's title in the built site."""
    shown = {}
    for html in sorted((built_book / "book").glob("*.html")):
        m = SHOWN.search(html.read_text(encoding="utf-8"))
        assert m, f"{html.name} shows no reading time"
        core, everything = (int(m["one"]),) * 2 if m["one"] else (int(m["core"]), int(m["all"]))
        assert core < everything or m["one"], html.name
        shown[f"book/{html.stem}"] = (core, everything)
    return shown


def lecture_pages() -> list[str]:
    import yaml

    toc = yaml.safe_load((SITE_ROOT / "_toc.yml").read_text(encoding="utf-8"))
    [lecture] = [p for p in toc["parts"] if p["caption"].startswith("Lecture")]
    return [c["file"] for c in lecture["chapters"]]


@pytest.mark.book
def test_every_page_shows_its_reading_time_and_the_intro_sums_them(built_book: Path) -> None:
    shown = shown_times(built_book)
    pages = lecture_pages()
    core = sum(shown[p][0] for p in pages)
    everything = sum(shown[p][1] for p in pages)
    intro = (built_book / "book" / "intro.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", intro)
    assert re.search(rf"core path,\s+what you need before the lecture, takes about {core} "
                     rf"minutes", text), f"the intro does not state the core path's {core} minutes"
    assert re.search(rf"the lecture pages take about {everything} minutes", text), everything
    for page in ("recap", "layer-backprop", "practice"):
        assert f"({shown['book/' + page][0]} min)" in text, page


def _slots(built_book: Path) -> dict[tuple[str, str], int]:
    """The intro map's lecture slots -> the core minutes of the pages it puts in them."""
    intro = (built_book / "book" / "intro.html").read_text(encoding="utf-8")
    slots: dict[tuple[str, str], int] = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", intro, re.DOTALL):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                        row, re.DOTALL)]
        m = re.fullmatch(r"Lecture (\d:\d\d)–(\d:\d\d)", cells[0]) if cells else None
        minutes = re.search(r"\((\d+) min\)", cells[1]) if m else None
        if minutes:
            slots[(m[1], m[2])] = slots.get((m[1], m[2]), 0) + int(minutes[1])
    return slots


def _length(start: str, end: str) -> int:
    (h0, m0), (h1, m1) = (map(int, start.split(":")), map(int, end.split(":")))
    return 60 * (h1 - h0) + m1 - m0


@pytest.mark.book
def test_the_map_puts_no_more_core_reading_in_a_slot_than_it_holds(built_book: Path) -> None:
    slots = _slots(built_book)
    assert len(slots) >= 6, slots  # the lecture slots with reading (not the break)
    over = {s: t for s, t in slots.items() if t > _length(*s)}
    assert not over, f"more core reading (min) than the slot holds: {over}"


@pytest.mark.book
def test_the_lecture_core_path_fits_the_pre_reading_budget(built_book: Path) -> None:
    """Issue 25: the core of the lecture pages, summed as the pages show it, takes at most
    CORE_PATH_BUDGET minutes. Over it? Move secondary material into deep dives
    (docs/reading-time.md); the rates and the path stay as they are."""
    shown = shown_times(built_book)
    pages = lecture_pages()
    assert len(pages) >= 8, pages  # recap to wrap-up: no lecture page leaves the path
    core = {p.removeprefix("book/"): shown[p][0] for p in pages}
    assert sum(core.values()) <= CORE_PATH_BUDGET, (
        f"the core path takes {sum(core.values())} min, over the budget of "
        f"{CORE_PATH_BUDGET}: {core}")


@pytest.mark.book
def test_mlp_autograd_and_live_demo_keep_their_core_short(built_book: Path) -> None:
    """The core targets of issue 25 for mlp, autograd and live-demo (the whole core path:
    CORE_PATH_BUDGET, above)."""
    shown = shown_times(built_book)
    for page, target in {"mlp": 10, "autograd": 10, "live-demo": 4}.items():
        assert shown[f"book/{page}"][0] <= target, (page, shown[f"book/{page}"])
