"""What the site resolved, read from the Sphinx environment into a :class:`References`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from .glue import page_glue
from .markdown import References, Target

if TYPE_CHECKING:
    from sphinx.application import Sphinx


def _number(app: Sphinx, docname: str, anchor: str) -> tuple[str, str, str]:
    """(bare number, format, kind) of an enumerable node, as the site numbers it."""
    for kind, numbers in app.env.toc_fignumbers.get(docname, {}).items():
        if anchor in numbers:
            fmt = app.config.numfig_format.get(kind, "%s")
            return ".".join(map(str, numbers[anchor])), fmt, kind
    return "", "%s", ""


def equation_number(app: Sphinx, label: str, docname: str, number: int) -> str:
    """The number the site shows for an equation (as Sphinx's math domain resolves it)."""
    from docutils.nodes import make_id

    config = app.config
    if not (config.math_numfig and config.numfig):
        return str(number)
    numbers = app.env.toc_fignumbers.get(docname, {}).get("displaymath", {}).get(
        make_id(f"equation-{label}"), ())
    if not numbers:
        return str(number)
    return config.math_numsep.join(".".join(map(str, numbers)).rsplit(".", 1))


def bibliography(app: Sphinx) -> dict[str, tuple[str, str]]:
    """``key -> (authors, year)`` for author-year citations, from the book's .bib files."""
    from pybtex.database import parse_file

    out: dict[str, tuple[str, str]] = {}
    for bib in getattr(app.config, "bibtex_bibfiles", []) or []:
        path = Path(app.srcdir) / bib
        if not path.exists():
            continue
        for key, entry in parse_file(str(path)).entries.items():
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [re.sub(r"[{}\\]", "", " ".join(p.last_names)) for p in people]
            if not names:
                who = re.sub(r"[{}\\]", "", entry.fields.get("organization", "")
                             or entry.fields.get("institution", "") or entry.fields.get("title", key))
            elif len(names) == 1:
                who = names[0]
            elif len(names) == 2:
                who = f"{names[0]} and {names[1]}"
            else:
                who = f"{names[0]} et al."
            out[key] = (who, entry.fields.get("year", "n.d."))
    return out


def from_sphinx(app: Sphinx, site: str, cache_dir: Path, docnames: list[str]) -> References:
    """Labels, equations, titles and the bibliography from the environment; the glued values
    of ``docnames`` (the pages with code) from the jupyter-cache the site was rendered from."""
    env = app.env
    std = env.get_domain("std")
    labels: dict[str, Target] = {}
    for label, (docname, anchor) in std.anonlabels.items():
        title = std.labels.get(label, (None, None, ""))[2] or ""
        number, fmt, kind = _number(app, docname, anchor)
        labels[label] = Target(docname, anchor, " ".join(title.split()), number, fmt,
                               kind or ("section" if title else ""))
    equations = {
        label: Target(docname, f"equation-{label}", "",
                      equation_number(app, label, docname, number), "(%s)", "displaymath")
        for label, (docname, number) in env.get_domain("math").equations.items()
    }
    titles = {doc: title.astext() for doc, title in env.titles.items()}
    glue = {}
    # make preview's warm Sphinx keeps them between its builds: it executes nothing in its life
    memo = getattr(app, "mlpbook_glue", None)
    for docname in docnames:
        if memo is not None and docname in memo:
            data = memo[docname]
        else:
            data = page_glue(cache_dir, Path(env.doc2path(docname)))
            if memo is not None:
                memo[docname] = data
        if data is not None:
            glue[docname] = data
    return References(labels, equations, titles, glue, bibliography(app), site,
                      removed_by_edition(app))


def removed_by_edition(app: Sphinx) -> dict[str, Target]:
    """The labels the site's edition removed (editions.py), as targets without a number."""
    from editions import removed_targets  # tools/sphinxext: a sibling local extension

    return {label: Target(docname, "", t.title, "", "%s", t.kind)
            for docname, found in removed_targets(app.env).items()
            for label, t in found.items()}
