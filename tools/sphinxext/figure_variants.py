"""Figures in the reader's theme and at the reader's width (docs/figures.md).

A figure a code cell shows is stored in the notebook as its light, wide SVG, with its other
variants in the output's metadata (``mlpbook.figvariants``: "dark", and for a wide figure
"narrow" and "narrow-dark"). This extension writes every variant as an image file, next to the
one myst-nb writes, and renders the figure as two ``<picture>`` elements, one per theme::

    <picture class="figure-scroll mlpbook-figure mlpbook-light">
      <source media="(max-width: 575.98px)" srcset="_images/<narrow>.svg">
      <img src="_images/<wide>.svg" alt="...">
    </picture>
    <picture class="figure-scroll mlpbook-figure mlpbook-dark">...</picture>

custom.css shows the one for the page's theme (html[data-theme]); the browser picks the width.
Both images are ``loading="lazy"``: the browser fetches only the displayed theme's, when it comes
near the screen (before, every page downloaded each figure twice).
A computational graph (``mlpbook-graph``) is not redrawn narrower: on a phone figures.js scrolls
it to its right end, where the output node and the start of the backward pass are.
Files are named by the hash of their content (as myst-nb's), so two builds write the same files.
"""

from __future__ import annotations

import hashlib
import html
import os
import posixpath
from urllib.parse import quote

from docutils import nodes
from myst_nb.core.render import MimeData, NbElementRenderer

KEY = "mlpbook_variants"
#: Below this viewport width the narrow variant is shown (the theme's "small" breakpoint).
NARROW_MEDIA = "(max-width: 575.98px)"
THEMES = ("light", "dark")


class figure_variants(nodes.General, nodes.Element):  # noqa: N801 - docutils naming
    """The variants of one figure: image nodes with a "variant" attribute."""


_original_render_image = NbElementRenderer.render_image


def render_image(self: NbElementRenderer, data: MimeData) -> list[nodes.Element]:
    """myst-nb's image rendering, plus a node holding the variants when the output has them."""
    rendered = _original_render_image(self, data)
    variants = (data.output_metadata.get(data.mime_type) or {}).get(KEY)
    if data.mime_type != "image/svg+xml" or not isinstance(variants, dict) or not rendered:
        return rendered
    wide = rendered[0]
    wide["variant"] = "light"
    holder = figure_variants(graph=bool(variants.get("graph")))
    holder += wide
    for name in ("dark", "narrow", "narrow-dark"):
        svg = variants.get(name)
        if not isinstance(svg, str):
            continue
        content = os.linesep.join(svg.splitlines()).encode("utf-8")
        uri = self.write_file([hashlib.sha256(content).hexdigest() + ".svg"], content,
                              overwrite=False, exists_ok=True)
        image = nodes.image(uri=uri, variant=name)
        for key in ("alt", "classes", "width", "height", "scale", "align"):
            if key in wide:
                image[key] = wide[key]
        holder += image
    return [holder]


def _src(translator, image: nodes.image) -> str:
    uri = image["uri"]
    images = translator.builder.images
    if uri in images:
        return posixpath.join(translator.builder.imgpath, quote(images[uri]))
    return uri


def visit_figure_variants(translator, node: figure_variants) -> None:
    images = {child["variant"]: child for child in node.children if isinstance(child, nodes.image)}
    extra = " mlpbook-graph" if node.get("graph") else ""
    for theme in THEMES:
        wide = images.get(theme) or images["light"]
        narrow = images.get("narrow" if theme == "light" else "narrow-dark")
        classes = " ".join(["dark-light", *wide.get("classes", [])])
        alt = html.escape(wide.get("alt", ""), quote=True)
        out = [f'<picture class="figure-scroll mlpbook-figure mlpbook-{theme}{extra}">']
        if narrow is not None:
            out.append(f'<source media="{NARROW_MEDIA}" srcset="{_src(translator, narrow)}">')
        # lazy: the other theme's picture is not displayed, and a lazy image that is not
        # displayed is never fetched; the reader's own loads as it comes near the screen
        out.append(f'<img src="{_src(translator, wide)}" alt="{alt}" class="{classes}" '
                   'loading="lazy">')
        out.append("</picture>")
        translator.body.append("".join(out))
    raise nodes.SkipNode


def _skip(translator, node) -> None:
    raise nodes.SkipNode


def setup(app):
    NbElementRenderer.render_image = render_image
    app.add_node(figure_variants, html=(visit_figure_variants, None),
                 latex=(_skip, None), text=(_skip, None), man=(_skip, None),
                 texinfo=(_skip, None))
    app.add_js_file("figures.js")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

