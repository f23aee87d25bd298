"""The deck builder (tools/slides) on a tiny synthetic book: no build, no kernel, no browser.

A synthetic repository holds a built page (a figure, a labelled equation, inline maths, code),
an instructor page with one timed cue, a lesson plan with one block, a slide source, and an
execution cache with the page's executed notebook (written by hand, as the build would cache
it). The tests build its deck and check what the slides take from the book: the glued value
(changed in the cache: the slide changes), the figure file (byte for byte), and a clear error
naming the slide and the missing name when the book loses something a slide refers to.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT

sys.path[:0] = [str(ROOT / "tools" / "slides"), str(ROOT / "tools" / "sphinxext")]
import build_slides  # noqa: E402
from plan import read_plan  # noqa: E402
from sitehtml import SlideError  # noqa: E402
from source import read_source  # noqa: E402

PAGE_MD = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Demo

```{code-cell} ipython3
from myst_nb import glue
lr = LR
glue("demo_lr", lr, display=False)
```
"""

PAGE_HTML = """<html><head><title>Demo</title></head><body><article>
<section id="demo"><h1>Demo</h1>
<section id="sec-demo-fit"><h2>Fitting</h2>
<p>We step with <span class="math notranslate nohighlight">\\(\\eta = 0.1\\)</span>.</p>
<div class="math notranslate nohighlight" id="equation-eq-demo-step">
<span class="eqno">(1.1)<a class="headerlink" href="#equation-eq-demo-step">#</a></span>\\[
w \\leftarrow w - \\eta\\, g
\\]</div>
<div class="highlight-ipython3 notranslate"><div class="highlight"><pre><span></span><span class="n">a</span> <span class="o">=</span> <span class="mi">1</span>
<span class="w">    </span><span class="n">b</span>
</pre></div></div>
<div class="cell_output docutils container"><div class="output stream highlight-myst-ansi notranslate"><div class="highlight"><pre><span></span>loss 0.25 &lt; 1
</pre></div></div></div>
<figure class="align-default" id="fig-demo-loss">
<img alt="A falling loss curve." src="../_images/abc123.svg" />
<figcaption><p>The loss.</p></figcaption></figure>
</section></section></article></body></html>
"""

INSTRUCTOR_HTML = """<html><head></head><body>
<section id="instructor"><h1>Instructor</h1>
<section id="lecture-3-h"><span id="sec-instructor-lecture"></span><h2>Lecture</h2>
<section id="fit"><h3>0:00–0:10 · Fitting (10 min)</h3>
<ul><li><p>0:00 Show <a href="demo.html#sec-demo-fit">Fitting</a>. <strong>Ask</strong> what the
step does; wait for two answers.</p></li></ul>
</section></section></section></body></html>
"""

PLAN = """# Lesson plan

## Lecture · 3 hours

### 0:00–0:10 · Fitting (10 min)

One block.

## Practice · 2 hours
"""

SLIDES = """---
title: Fitting
session: lecture
block: Fitting
page: demo
---

# Fitting

---

## One step

{eq}`eq-demo-step`

What is the step with $\\eta = 0.1$?

:::{answer}
The learning rate is {glue}`demo_lr:.2f`.
:::

:::{cue} 0:00
:::

---

## The loss

:::{figure} fig-demo-loss
:::

:::{code} sec-demo-fit 1 lines=2-2
:::

:::{output} sec-demo-fit
:::
"""

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def cache_page(root: Path, lr: float) -> None:
    """Write book/demo.md with ``lr`` and cache its executed notebook, as tools/build.py would."""
    import jupytext
    import nbformat
    from jupyter_cache import get_cache

    page = root / "book" / "demo.md"
    page.write_text(PAGE_MD.replace("LR", repr(lr)), encoding="utf-8")
    notebook = jupytext.read(page, fmt="md:myst")
    prefix = "application/papermill.record/"
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    cell.outputs = [nbformat.v4.new_output(
        "display_data", data={prefix + "text/plain": repr(lr)},
        metadata={"scrapbook": {"name": "demo_lr", "mime_prefix": prefix}})]
    cell.execution_count = 1
    target = root / "_build" / ".jupyter_cache"
    target.mkdir(parents=True, exist_ok=True)
    path = root / "_build" / "demo.ipynb"
    nbformat.write(notebook, path)
    get_cache(str(target)).cache_notebook_file(str(path), uri=str(page), check_validity=False,
                                               overwrite=True)


@pytest.fixture
def book(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    html = root / "_build" / "html"
    (html / "book").mkdir(parents=True)
    (html / "_images").mkdir()
    (html / "_images" / "abc123.svg").write_bytes(SVG)
    (html / "book" / "demo.html").write_text(PAGE_HTML, encoding="utf-8")
    (html / "book" / "instructor.html").write_text(INSTRUCTOR_HTML, encoding="utf-8")
    (root / "book").mkdir()
    (root / "book" / "lesson-plan.md").write_text(PLAN, encoding="utf-8")
    (root / "slides").mkdir()
    (root / "slides" / "01-fitting.md").write_text(SLIDES, encoding="utf-8")
    cache_page(root, 0.1)
    return root


def deck_html(root: Path) -> str:
    build_slides.build(root, root / "_build" / "slides")
    return (root / "_build" / "slides" / "fitting.html").read_text(encoding="utf-8")


def test_deck_takes_values_figures_maths_code_and_cues_from_the_book(book: Path) -> None:
    text = deck_html(book)
    assert '<span class="glued">0.10</span>' in text
    assert "w \\leftarrow w - \\eta\\, g" in text and "(1.1)" not in text  # no page number
    assert '<span class="math notranslate nohighlight">\\(\\eta = 0.1\\)</span>' in text
    assert '<div class="answer fragment">' in text
    assert '<pre><span class="w">    </span><span class="n">b</span></pre>' in text
    assert '<pre class="slide-output">loss 0.25 &lt; 1</pre>' in text
    notes = re.findall(r'<aside class="notes">(.*?)</aside>', text, re.DOTALL)
    assert len(notes) == 2  # the title slide (the block's time) and the cued slide
    assert "0:00–0:10 (10 min)" in notes[0]
    assert "<strong>Ask</strong> what the\nstep does" in notes[1] and "<a " not in notes[1]
    assert 'data-cues="0:00"' in text and 'data-minutes="10"' in text


def test_slide_figure_is_the_page_image_byte_for_byte(book: Path) -> None:
    text = deck_html(book)
    src = re.search(r'data-page="demo" data-figure="fig-demo-loss"><img src="([^"]+)"', text).group(1)
    copied = book / "_build" / "slides" / src
    assert copied.read_bytes() == (book / "_build" / "html" / "_images" / "abc123.svg").read_bytes()


def test_changing_a_glued_value_changes_the_slide(book: Path) -> None:
    before = deck_html(book)
    cache_page(book, 0.25)
    after = deck_html(book)
    assert '<span class="glued">0.10</span>' in before
    assert '<span class="glued">0.25</span>' in after and "0.10" not in after


@pytest.mark.parametrize(("old", "new", "message"), [
    ("{glue}`demo_lr:.2f`", "{glue}`demo_rate:.2f`", "no glued value 'demo_rate' on the page 'demo'"),
    ("fig-demo-loss", "fig-demo-gone", "no figure 'fig-demo-gone' on the page 'demo'"),
    ("{eq}`eq-demo-step`", "{eq}`eq-demo-gone`", "no equation 'eq-demo-gone' on the page 'demo'"),
    ("$\\eta = 0.1$", "$\\eta = 0.2$", "the inline maths $\\eta = 0.2$ is on no page of the site, which renders maths at build time"),
    ("sec-demo-fit 1 lines=2-2", "sec-demo-fit 2", "has 1 code block(s), the slide asks for number 2"),
    ("sec-demo-fit 1 lines=2-2", "sec-demo-fit 1 lines=2-5", "has 2 lines, the slide asks for 2-5"),
    (":::{output} sec-demo-fit", ":::{output} sec-demo-gone", "no section 'sec-demo-gone' on the page 'demo'"),
    (":::{cue} 0:00", ":::{cue} 0:05", "the instructor timetable has no cue at 0:05"),
    ("block: Fitting", "block: Fitting in", "the lesson plan has no lecture block 'Fitting in'"),
    (":::{answer}", ":::{answr}", "unknown directive {answr}"),
])
def test_a_name_the_book_no_longer_has_stops_the_build(book: Path, old: str, new: str,
                                                        message: str) -> None:
    source = book / "slides" / "01-fitting.md"
    source.write_text(SLIDES.replace(old, new), encoding="utf-8")
    with pytest.raises(SlideError) as caught:
        build_slides.build(book, book / "_build" / "slides")
    assert message in str(caught.value)
    assert "01-fitting.md" in str(caught.value)
    assert build_slides.main(["--root", str(book), "--no-pdf", "--no-publish"]) == 1


def test_a_stale_cache_is_an_error_not_an_old_value(book: Path) -> None:
    page = book / "book" / "demo.md"
    page.write_text(page.read_text(encoding="utf-8").replace("lr = 0.1", "lr = 0.3"), "utf-8")
    with pytest.raises(SlideError, match="holds no outputs for book/demo.md"):
        build_slides.build(book, book / "_build" / "slides")


def test_every_deck_serves_a_block_of_the_lesson_plan_in_order() -> None:
    """The repository's slide sources: each names blocks of the plan; decks sort by time."""
    plan = read_plan(ROOT / "book" / "lesson-plan.md")
    starts = []
    for path in sorted((ROOT / "slides").glob("*.md")):
        source = read_source(path)
        spans = build_slides.spans_of(source, plan)
        order = (source.meta["session"] != "lecture", spans[0][0])
        starts.append(order)
    assert starts == sorted(starts), "slides/NN-*.md must follow the lesson plan's order"
    lecture = {b.title for b in plan if b.session == "lecture"} - {"Break", "Buffer & questions"}
    served = {build_slides.blocks_of(read_source(p), plan)[0].title
              for p in (ROOT / "slides").glob("*.md")}
    assert lecture <= served, f"lecture blocks without a deck: {lecture - served}"
    assert any(b.session == "practice" for p in (ROOT / "slides").glob("*.md")
               for b in build_slides.blocks_of(read_source(p), plan))


def test_builder_modules_stay_small() -> None:
    for path in (ROOT / "tools" / "slides").glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path


def test_the_maths_renderer_the_page_loads_is_copied_and_used(book: Path) -> None:
    """A site that typesets in the browser: the deck loads the page's MathJax from its own
    folder (never a CDN), and a formula no page shows goes to that MathJax as the pages' do."""
    html = book / "_build" / "html"
    (html / "_static" / "mathjax" / "output").mkdir(parents=True)
    (html / "_static" / "mathjax" / "tex-chtml.js").write_text("/* MathJax */", encoding="utf-8")
    (html / "_static" / "mathjax" / "output" / "font.woff").write_bytes(b"font")
    page = html / "book" / "demo.html"
    page.write_text(page.read_text(encoding="utf-8").replace(
        "<title>Demo</title>", '<title>Demo</title><script>window.MathJax = {"options": {}}</script>'
        '<script defer="defer" src="../_static/mathjax/tex-chtml.js"></script>'
        '<script src="https://cdn.example.org/other.js"></script>'), encoding="utf-8")
    source = book / "slides" / "01-fitting.md"
    source.write_text(SLIDES.replace("$\\eta = 0.1$", "$\\eta = 0.2$"), encoding="utf-8")
    text = deck_html(book)
    assert '<script defer="defer" src="site/_static/mathjax/tex-chtml.js"></script>' in text
    assert "window.MathJax" in text and "cdn.example.org" not in text
    assert (book / "_build" / "slides" / "site" / "_static" / "mathjax" / "output" / "font.woff").is_file()
    assert '<span class="math notranslate nohighlight">\\(\\eta = 0.2\\)</span>' in text


def test_a_maths_renderer_from_a_cdn_stops_the_build(book: Path) -> None:
    page = book / "_build" / "html" / "book" / "demo.html"
    page.write_text(page.read_text(encoding="utf-8").replace(
        "<title>Demo</title>", '<title>Demo</title>'
        '<script src="https://cdn.example.org/mathjax@3/es5/tex-chtml.js"></script>'), "utf-8")
    with pytest.raises(SlideError, match="from https://cdn.example.org/mathjax.*no CDN"):
        build_slides.build(book, book / "_build" / "slides")
