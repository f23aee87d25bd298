"""Numbers, not names: the values a page glues, as the site shows them.

tools/build.py executes every page before Sphinx runs and stores the outputs in the
jupyter-cache (``pages.CACHE``); myst-nb renders the site from there. The notebooks read the same
executed notebooks, so a ``{glue:text}`key:.3f``` shows the same digits on the page and in
Colab. Formatting is myst-nb's own (``format_plain_text``).
"""

from __future__ import annotations

from pathlib import Path

from solutions import page_text  # the page with its book/solutions/ blocks

# key -> the glued output's mime bundle, e.g. {"text/plain": "0.1234"}
GlueData = dict[str, dict[str, str]]


def cached_outputs(cache_dir: Path, page_path: Path):
    """The executed notebook of a page from the jupyter-cache, or None if the cache does not
    hold the page's current code (jupyter-cache matches on the code cells)."""
    import jupytext
    from jupyter_cache import get_cache

    if not cache_dir.is_dir():
        return None
    cache = get_cache(str(cache_dir))
    try:
        record = cache.match_cache_notebook(jupytext.reads(page_text(page_path), fmt="md:myst"))
    except KeyError:
        return None
    return cache.get_cache_bundle(record.pk).nb


def glue_data(notebook) -> GlueData:
    """Every value glued in an executed notebook, by key."""
    import copy

    from myst_nb.ext.glue import extract_glue_data_cell

    data: GlueData = {}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            for key, output in extract_glue_data_cell(copy.deepcopy(cell)):
                data[key] = dict(output["data"])
    return data


def page_glue(cache_dir: Path, page_path: Path) -> GlueData | None:
    """The page's glued values, or None if the cache has no outputs for it."""
    notebook = cached_outputs(cache_dir, page_path)
    return None if notebook is None else glue_data(notebook)


def format_value(bundle: dict[str, str], fmt_spec: str = "") -> str:
    """A glued value as ``{glue:text}`` renders it (``key:fmt_spec``); plain text otherwise."""
    from myst_nb.core.variables import format_plain_text

    text = bundle.get("text/plain")
    if text is None:
        raise LookupError(f"no text/plain in the glued value (has {sorted(bundle)})")
    return format_plain_text(text, fmt_spec)
