"""``make slides``: one reveal.js deck per block of the lesson plan, from ``slides/*.md`` and
the built, executed book; then an index, PDF handouts and screenshots
(``tools/slides/handouts.py``).

    python tools/slides/build_slides.py [--root DIR] [--no-pdf] [--no-publish]

Writes ``_build/slides/`` (``<deck>.html``, ``<deck>.pdf``, ``index.html``, ``lib/``,
``images/``, ``site/``) and copies it to ``_build/html/slides/``, the published site's
``<site>/slides/``. Figures are the page's image files (copied byte for byte), values the page's
glued values (read from the executed notebooks in the jupyter-cache, as the Colab notebooks
read them), equations and code the page's rendered HTML. A slide that names something the book
no longer has stops the build with the slide, the name and where it was looked for.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "sphinxext")]

from deck import Deck, Slide, render_deck, render_index  # noqa: E402
from plan import Block, blocks_named, minutes, read_plan  # noqa: E402
from sitehtml import Site, SlideError  # noqa: E402
from source import Renderer, Source, read_source  # noqa: E402

OUT = Path("_build") / "slides"
PUBLISHED = Path("_build") / "html" / "slides"


def reveal_dir() -> Path:
    """reveal.js as the pinned sphinx-revealjs wheel ships it (requirements.txt)."""
    import sphinx_revealjs

    found = Path(sphinx_revealjs.__file__).parent / "_static" / "revealjs"
    if not (found / "dist" / "reveal.js").is_file():
        raise SlideError(f"reveal.js not found in {found}: run `make venv`")
    return found


def blocks_of(source: Source, plan: list[Block]) -> list[Block]:
    """The plan's blocks the deck serves: ``block`` is a title, or a list of titles."""
    titles = source.meta["block"]
    titles = titles if isinstance(titles, list) else [titles]
    try:
        return [b for t in titles for b in blocks_named(plan, source.meta["session"], t)]
    except LookupError as exc:
        raise SlideError(f"{source.path.name}: {exc}") from None


def spans_of(source: Source, plan: list[Block]) -> list[tuple[int, int]]:
    """The deck's time: its block(s) in the plan, or part of its block (``start``, ``minutes``)."""
    blocks = blocks_of(source, plan)
    if "start" not in source.meta:
        return [(b.start, b.end) for b in blocks]
    start = minutes(str(source.meta["start"]))
    end = start + int(source.meta["minutes"])
    if not any(b.start <= start and end <= b.end for b in blocks):
        raise SlideError(f"{source.path.name}: {source.meta['start']} + {source.meta['minutes']} "
                         f"min lies outside the block {source.meta['block']!r}")
    return [(start, end)]


class Assets:
    """Files a deck needs, copied into the output folder under the same names."""

    def __init__(self, out: Path, site_html: Path) -> None:
        self.out, self.site_html = out, site_html

    def image(self, path: Path) -> str:
        target = self.out / "images" / path.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        return f"images/{path.name}"

    def site_folder(self, rel: Path) -> None:
        target = self.out / "site" / rel
        if not target.exists() and (self.site_html / rel).exists():
            if (self.site_html / rel).is_dir():
                shutil.copytree(self.site_html / rel, target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.site_html / rel, target)


def glue_reader(root: Path):
    """page -> its glued values, from the execution cache the site was rendered from."""
    from colab_notebooks.glue import page_glue
    from pages import CACHE

    cached: dict[str, dict] = {}

    def glue(page: str) -> dict:
        if page not in cached:
            values = page_glue(root / CACHE, root / "book" / f"{page}.md")
            if values is None:
                raise SlideError(f"the execution cache holds no outputs for book/{page}.md "
                                 "that match its code: run `make book` first")
            cached[page] = values
        return cached[page]

    return glue


def build_deck(source: Source, plan: list[Block], site: Site, glue, assets: Assets) -> Deck:
    meta = source.meta
    spans = spans_of(source, plan)
    deck = Deck(source.name, meta["title"], meta["session"], blocks_of(source, plan)[0].title,
                spans)
    sessions = [meta["session"]]
    renderer = Renderer(source, site, glue, assets.image,
                        lambda key: site.cue(key, sessions, spans))
    for number, text in enumerate(source.slides, 1):
        out = renderer.render(number, text)
        deck.slides.append(Slide(out.html, out.notes, out.cues, out.prediction, number == 1))
    first = deck.slides[0]
    first.notes.insert(0, f'<p class="block-time"><strong>{deck.block}</strong>: {deck.times} '
                          f"({deck.minutes} min).</p>")
    elements, folders = site.maths_assets(meta["page"])
    deck.maths_head = elements
    for folder in folders:
        assets.site_folder(folder)
    return deck


def build(root: Path, out: Path) -> list[Deck]:
    site = Site(root / "_build" / "html")
    plan = read_plan(root / "book" / "lesson-plan.md")
    sources = sorted((root / "slides").glob("*.md"))
    if not sources:
        raise SlideError(f"no slide sources in {root / 'slides'}")
    if out.exists():
        shutil.rmtree(out)
    (out / "lib" / "reveal").mkdir(parents=True)
    reveal = reveal_dir()
    for name in ("reveal.js", "reveal.css"):
        shutil.copyfile(reveal / "dist" / name, out / "lib" / "reveal" / name)
    shutil.copyfile(reveal / "plugin" / "notes" / "notes.js", out / "lib" / "reveal" / "notes.js")
    for name in ("deck.css", "deck.js", "index.css"):
        shutil.copyfile(HERE / name, out / "lib" / name)
    assets = Assets(out, site.html)
    assets.site_folder(Path("_static") / "pygments.css")  # the site's code colours
    glue = glue_reader(root)
    decks = [build_deck(read_source(path), plan, site, glue, assets) for path in sources]
    names = [d.name for d in decks]
    if len(set(names)) != len(names):
        raise SlideError(f"two slide sources make the same deck: {names}")
    for deck in decks:
        (out / f"{deck.name}.html").write_text(render_deck(deck), encoding="utf-8")
    return decks


def write_index(root: Path, out: Path, decks: list[Deck], pdfs: bool) -> None:
    plan = read_plan(root / "book" / "lesson-plan.md")
    (out / "index.html").write_text(render_index(plan, decks, pdfs), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=HERE.parent.parent)
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDFs and screenshots")
    parser.add_argument("--no-publish", action="store_true",
                        help="do not copy the decks into _build/html/slides")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out = root / OUT
    try:
        decks = build(root, out)
    except SlideError as exc:
        print(f"[slides] error: {exc}", file=sys.stderr)
        return 1
    if not args.no_pdf:
        from handouts import print_decks  # Chromium: PDFs and screenshots

        print_decks(out, decks, root / "_build" / "screenshots" / "slides")
    write_index(root, out, decks, not args.no_pdf)
    print(f"[slides] {len(decks)} deck(s), {sum(len(d.slides) for d in decks)} slides in {out}")
    if not args.no_publish:
        published = root / PUBLISHED
        if published.exists():
            shutil.rmtree(published)
        shutil.copytree(out, published)
        print(f"[slides] published with the site: {published}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
