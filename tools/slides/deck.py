"""A deck's HTML page and the index page: templates only (no lookups).

Every URL in a deck is relative (``lib/``, ``images/``, ``site/``), so a deck opens from
``file://`` and from ``<site>/slides/`` alike, and asks nothing of any other host.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from plan import clock


@dataclass
class Slide:
    html: str
    notes: list[str]
    cues: list[str]
    prediction: bool
    title: bool = False


@dataclass
class Deck:
    name: str  # file name without .html
    title: str
    session: str
    block: str  # the lesson plan's block title
    spans: list[tuple[int, int]]  # (start, end) minutes of the session, from the plan
    slides: list[Slide] = field(default_factory=list)
    maths_head: list[str] = field(default_factory=list)  # the page's maths elements

    @property
    def minutes(self) -> int:
        return sum(end - start for start, end in self.spans)

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def times(self) -> str:
        return ", ".join(f"{clock(s)}–{clock(e)}" for s, e in self.spans)


PAGE = """<!DOCTYPE html>
<html lang="en" data-theme="light">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="lib/reveal/reveal.css">
<link rel="stylesheet" href="site/_static/pygments.css">
<link rel="stylesheet" href="lib/deck.css">
{maths}
</head>
<body>
<div class="reveal" data-minutes="{minutes}" data-block="{block}" data-times="{times}">
<div class="slides">
{slides}
</div>
</div>
<script src="lib/reveal/reveal.js"></script>
<script src="lib/reveal/notes.js"></script>
<script src="lib/deck.js"></script>
</body>
</html>
"""


def render_slide(slide: Slide, number: int) -> str:
    classes = ["title-slide"] if slide.title else []
    if slide.prediction:
        classes.append("prediction")
    attrs = f' class="{" ".join(classes)}"' if classes else ""
    if slide.cues:
        attrs += f' data-cues="{html.escape(" ".join(slide.cues))}"'
    notes = "".join(slide.notes)
    aside = f'\n<aside class="notes">{notes}</aside>' if notes else ""
    return f'<section id="slide-{number}"{attrs}>\n{slide.html}{aside}\n</section>'


def render_deck(deck: Deck) -> str:
    slides = "\n".join(render_slide(s, i) for i, s in enumerate(deck.slides, 1))
    maths = "\n".join(m.replace("@SITE@/", "site/") for m in deck.maths_head)
    return PAGE.format(title=html.escape(deck.title), maths=maths, minutes=deck.minutes,
                       block=html.escape(deck.block), times=deck.times, slides=slides)


INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Slides · Week 3 · MLPs &amp; Backpropagation</title>
<link rel="stylesheet" href="lib/index.css">
</head>
<body>
<main>
<h1>Slides · Week 3 · MLPs &amp; Backpropagation</h1>
<p>One deck per block of the lesson plan, in its order. Press <kbd>S</kbd> in a deck for the
speaker view (notes, and the time left in the block), <kbd>F</kbd> for full screen,
<kbd>D</kbd> for the dark theme. The PDF handouts have one page per slide.</p>
{sessions}
</main>
</body>
</html>
"""


def render_index(plan, decks: list[Deck], pdfs: bool) -> str:
    sessions = []
    for session, heading in (("lecture", "Lecture (3 h)"), ("practice", "Practice session (2 h)")):
        rows = []
        for block in (b for b in plan if b.session == session):
            mine = [d for d in decks if d.session == session and any(
                block.start <= s < block.end or s <= block.start < e for s, e in d.spans)]
            links = "<br>".join(
                f'<a href="{d.name}.html">{html.escape(d.title)}</a> <span class="when">'
                f"({clock(d.start)}, {d.minutes} min)</span>"
                + (f' · <a href="{d.name}.pdf">PDF</a>' if pdfs else "") for d in mine)
            rows.append(f"<tr><td>{block.times}</td><td>{block.length} min</td>"
                        f"<td>{html.escape(block.title)}</td><td>{links or '–'}</td></tr>")
        sessions.append(f"<h2>{heading}</h2>\n<table>\n<thead><tr><th>Time</th><th>Length</th>"
                        "<th>Block</th><th>Deck</th></tr></thead>\n<tbody>\n"
                        + "\n".join(rows) + "\n</tbody>\n</table>")
    return INDEX.format(sessions="\n".join(sessions))
