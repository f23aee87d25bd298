"""Freshness: which pages must be executed, and which must be re-rendered. The one place for it.

Execution. A page with code is executed when its *input digest* (what its execution depends on:
its code cells' source and metadata, tags included, and its front matter, kernel and jupytext
settings included; ``requirements.txt``, ``_config.yml``, and the ``mlpbook`` sources if it uses
the package: ``input_digest``) differs from the one stamped at its last successful execution, or
when the execution cache does not hold a sound copy of its outputs. Prose is not an input: a
prose edit executes nothing (jupyter-cache, which serves the outputs, matches a page on its code
cells alone too, myst-nb #299, so the cached outputs are the ones the page's code printed). Each
stamp also records the digest of the cached notebook file it was written with, so a truncated,
deleted or replaced cache entry is noticed, discarded and re-executed.

Rendering. What Sphinx last rendered is recorded per page (the digest of its whole text, its
input digest and the digest of the outputs it was rendered with) *after* a render succeeds. A
page whose record differs from its current text, inputs and cached outputs is re-read by Sphinx
(a prose edit re-renders its page), whatever happened to earlier builds (a build that executed
pages and then failed or was interrupted never records them). An edit to
anything else the site is made of (the local extensions, ``book/`` files that are not pages,
``_config.yml``, ``_toc.yml``, ``requirements.txt``) re-renders every page, and so does the
render after one that did not finish.

Every file here is written atomically (``state_files``: a temporary file, then a rename), so an
interrupted build leaves either the old or the new content, never half of it. Unreadable state
is repaired: each repair is reported in one line through ``say`` and the build carries on.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pages import CACHE, ROOT, Page, book_pages, page_text
from state_files import (Say, _quiet, _read_json, file_digest, no_interrupt,  # noqa: F401
                         write_atomic)  # (the tests use them as freshness.*)

# Files whose change must re-execute every page (besides the page itself).
GLOBAL_INPUTS = ("requirements.txt", "_config.yml")
STAMPS = CACHE / "mlpbook-stamps.json"
RENDERED = CACHE / "mlpbook-rendered.json"
# Files of jupyter-cache itself inside CACHE (discarded together when its database is unreadable).
CACHE_DB, CACHE_NOTEBOOKS, CACHE_VERSION = "global.db", "executed", "__version__.txt"
# tools/build.py tells its Sphinx extension which pages to re-read through this variable.
REREAD_ENV = "MLPBOOK_REREAD"
# Besides the pages: what the rendered site is made of (globs relative to the root).
SITE_INPUTS = (*GLOBAL_INPUTS, "_toc.yml", "package-lock.json", "tools/sphinxext/**/*", "book/**/*")

# --- what a page's execution depends on -------------------------------------------------------


def _digest_files(paths: list[Path], root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path.relative_to(root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def package_digest(root: Path = ROOT) -> str:
    """Hash of the mlpbook package (its sources and any files it ships, e.g. scripts or styles
    that pages embed) and its project file."""
    pkg = root / "code"
    files = [p for p in (pkg / "mlpbook").rglob("*") if p.is_file()
             and "__pycache__" not in p.parts and p.suffix != ".pyc"] + [pkg / "pyproject.toml"]
    return _digest_files(files, root)


@functools.lru_cache(maxsize=64)
def _parsed(text: str, path: str):
    """A page's text read as myst-nb reads it (kept: parsing is most of a no-change check)."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    return read_myst_markdown_notebook(text, config=MdParserConfig(), add_source_map=True,
                                       path=path)


def _code_digest(text: str, path: str) -> str:
    """Hash of what executing a page's text runs: its code cells (source and metadata, as
    myst-nb reads them) and the notebook's metadata (front matter: kernel, jupytext settings).
    The source map (where each cell starts in the file) is left out: prose moves it."""
    nb = _parsed(text, path)
    meta = {k: v for k, v in nb.metadata.items() if k != "source_map"}
    code = [{"source": c.source, "metadata": c.metadata} for c in nb.cells if c.cell_type == "code"]
    return hashlib.sha256(json.dumps({"metadata": meta, "cells": code}, sort_keys=True,
                                     default=repr).encode()).hexdigest()


def text_digest(page: Page) -> str:  # the whole text, with its solutions: what is rendered
    return hashlib.sha256(page.text.encode()).hexdigest()


def input_digest(page: Page, root: Path = ROOT, package: str | None = None) -> str:
    """Hash of everything a page's execution depends on.

    The page's code cells and front matter (not its prose), ``requirements.txt`` and
    ``_config.yml`` always; the ``mlpbook`` sources when the page uses the package.
    """
    h = hashlib.sha256()
    h.update(_code_digest(page.text, str(page.path)).encode())  # with its solutions' code
    h.update(_digest_files([root / name for name in GLOBAL_INPUTS], root).encode())
    if page.imports_mlpbook:
        h.update((package or package_digest(root)).encode())
    return h.hexdigest()


# --- execution: stamps and the cache ---------------------------------------------------------


@dataclass
class Stamps:
    """Per page: the input digest and cached-notebook digest of its last successful execution."""

    path: Path
    pages: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path, say: Say = _quiet) -> "Stamps":
        data = _read_json(root / STAMPS, "the stamps file", say)
        if data is None:
            return cls(root / STAMPS)
        pages = data.get("pages") if data.get("version") == 2 else {
            # the first format: docname -> input digest (outputs checked before they are trusted)
            name: {"inputs": value, "outputs": None} for name, value in data.items()
            if isinstance(value, str)}
        if not isinstance(pages, dict) or not all(isinstance(v, dict) for v in pages.values()):
            say(f"the stamps file {STAMPS.name} has an unknown layout: discarded")
            return cls(root / STAMPS)
        return cls(root / STAMPS, pages)

    def save(self) -> None:
        write_atomic(self.path, json.dumps({"version": 2, "pages": self.pages}, indent=1,
                                           sort_keys=True))

    def get(self, docname: str) -> dict:
        return self.pages.get(docname) or {}


def _discard_cache_db(root: Path) -> None:
    for name in (CACHE_DB, CACHE_VERSION):
        with contextlib.suppress(FileNotFoundError):
            (root / CACHE / name).unlink()
    shutil.rmtree(root / CACHE / CACHE_NOTEBOOKS, ignore_errors=True)


def open_cache(root: Path, say: Say = _quiet):
    """The jupyter-cache of ``root``; an unreadable database is discarded (said) and recreated."""
    from jupyter_cache import get_cache

    cache = get_cache(str(root / CACHE))
    try:
        records = cache.list_cache_records()
    except Exception as exc:  # noqa: BLE001  (jupyter-cache wraps sqlite's errors in RuntimeError)
        while exc.__cause__ is not None:
            exc = exc.__cause__
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        say(f"the execution cache database {CACHE_DB} is unreadable ({reason}): discarded, "
            "every page is re-executed")
        cache.db.dispose()
        with no_interrupt():
            _discard_cache_db(root)
        return get_cache(str(root / CACHE))
    _discard_hollow_entries(cache, records, say)
    return cache


def _shown_path(uri: str) -> str:
    """A page's path as cached (absolute, and maybe from another copy): ``book/name.md``."""
    path = Path(uri)
    with contextlib.suppress(ValueError):
        return path.relative_to(ROOT).as_posix()
    return "/".join(path.parts[-2:])


def _discard_hollow_entries(cache, records, say: Say) -> None:
    """Discard every entry folder of the cache that has lost its notebook file.

    jupyter-cache cannot store a notebook again under the key of such a folder (its ``mkdir``
    raises FileExistsError), whether or not the page was edited since: so the folder goes now,
    with its record if it has one, before anything decides what to execute.
    """
    folder = Path(cache.path) / CACHE_NOTEBOOKS
    if not folder.is_dir():
        return
    by_key = {record.hashkey: record for record in records}
    for entry in sorted(folder.iterdir()):
        if not entry.is_dir() or (entry / "base.ipynb").is_file():
            continue
        record = by_key.get(entry.name)
        what = f"of {_shown_path(record.uri)}" if record else f"in {CACHE_NOTEBOOKS}/{entry.name}"
        say(f"the cached outputs {what} are missing (its folder has no notebook file): "
            "entry discarded, the page is re-executed")
        with no_interrupt():
            if record is not None:
                from jupyter_cache.cache.db import NbCacheRecord

                NbCacheRecord.remove_records([record.pk], cache.db)
            shutil.rmtree(entry, ignore_errors=True)


def read_notebook(path: Path):
    """Read a MyST page exactly as myst-nb does, so that jupyter-cache's hash matches (a copy:
    callers add outputs to it)."""
    return copy.deepcopy(_parsed(page_text(path), str(path)))


def cached_notebook_path(cache, page: Page) -> tuple[int, Path] | None:
    """The cache record (primary key) and notebook file that hold ``page``'s outputs, if any."""
    try:
        record = cache.match_cache_notebook(read_notebook(page.path))
    except KeyError:
        return None
    return record.pk, cache._get_notebook_path_cache(record.hashkey)


def discard_entry(cache, pk: int, notebook: Path) -> None:
    """Remove one cache record and its files."""
    from jupyter_cache.cache.db import NbCacheRecord

    with no_interrupt():
        NbCacheRecord.remove_records([pk], cache.db)
        shutil.rmtree(notebook.parent, ignore_errors=True)


def _sound_notebook(path: Path) -> bool:
    import nbformat

    try:
        nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        return True
    except Exception:  # noqa: BLE001  (any parse failure means: not sound)
        return False


def cache_problem(cache, page: Page, stamp: dict, stamps: Stamps, say: Say = _quiet, *,
                  inputs_changed: bool = False) -> str | None:
    """Why the cache cannot serve ``page``, whose inputs match its stamp (None if it can).

    A missing entry is simply stale. An entry whose notebook file is gone, or differs from the
    file stamped when it was written (truncated, replaced), is said, discarded and re-executed.
    With ``inputs_changed`` (the page runs anyway) the entry its code matches is still checked,
    so that damage is said: against the stamp if it is the stamped entry, else for being an
    unreadable notebook (an older entry, as after an edit that was undone).
    """
    found = cached_notebook_path(cache, page)
    if found is None:
        return "no cached outputs"
    pk, notebook = found
    name = f"{page.docname}.md"
    if not notebook.exists():
        say(f"the cached outputs of {name} are missing (cache record {pk} has no notebook file): "
            "entry discarded, the page is re-executed")
        discard_entry(cache, pk, notebook)
        return "cache entry discarded"
    stamped = stamp.get("outputs")
    if inputs_changed and notebook.parent.name != stamp.get("entry"):
        stamped = file_digest(notebook) if _sound_notebook(notebook) else "unreadable"
    if stamped is None and _sound_notebook(notebook):
        # a first-format stamp: the file is checked, then recorded
        stamp.update(outputs=file_digest(notebook), entry=notebook.parent.name)
        stamps.save()
        return None
    if stamped != file_digest(notebook):
        say(f"the cached outputs of {name} do not match their stamp (truncated or changed "
            "since they were written): entry discarded, the page is re-executed")
        discard_entry(cache, pk, notebook)
        return "cache entry discarded"
    return None


def to_execute(root: Path, cache, stamps: Stamps, *, force: bool = False,
               only: set[str] | None = None, say: Say = _quiet) -> list[tuple[Page, str, str]]:
    """The pages with code that must be executed: ``(page, input digest, reason)``, in book order.

    The digest is taken before execution; it is what the page's stamp will record, so an edit
    made while the page runs makes it stale again.
    """
    package = package_digest(root)
    stale = []
    for page in book_pages(root):
        if not page.has_code or (only is not None and page.docname not in only):
            continue
        digest = input_digest(page, root, package)
        stamp = stamps.get(page.docname)
        if force:
            reason = "forced"
        elif stamp.get("inputs") != digest:
            reason = "inputs changed" if stamp else "not executed yet"
            if stamp:  # a damaged entry under the same key is said and discarded all the same
                cache_problem(cache, page, stamp, stamps, say, inputs_changed=True)
        else:
            reason = cache_problem(cache, page, stamp, stamps, say)
        if reason:
            stale.append((page, digest, reason))
    return stale


def store_outputs(cache, stamps: Stamps, page: Page, notebook, digest: str, seconds: float) -> None:
    """Cache a page's executed notebook and stamp it, as one step that Ctrl-C cannot split.

    Pages whose code cells are identical share one cache entry (jupyter-cache and myst-nb key
    it on the code alone): the others are stamped with the new file too, since that is what they
    now render. Their inputs stay as stamped, so a page whose own inputs changed still runs.
    """
    import nbformat
    from jupyter_cache.base import CacheBundleIn

    with no_interrupt():
        record = cache.cache_notebook_bundle(
            CacheBundleIn(nbformat.from_dict(notebook), str(page.path),
                          data={"execution_seconds": seconds}),
            check_validity=False, overwrite=True,
        )
        outputs = file_digest(cache._get_notebook_path_cache(record.hashkey))
        for stamp in stamps.pages.values():
            if stamp.get("entry") == record.hashkey:
                stamp["outputs"] = outputs
        stamps.pages[page.docname] = {"inputs": digest, "outputs": outputs,
                                      "entry": record.hashkey, "seconds": round(seconds, 3)}
        stamps.save()


def forget(stamps: Stamps, page: Page) -> None:
    """A page that failed has no good execution: its next build executes it again."""
    if stamps.pages.pop(page.docname, None) is not None:
        stamps.save()


# --- rendering -------------------------------------------------------------------------------


def site_digest(root: Path) -> str:
    """Hash of everything the rendered site depends on besides the pages themselves."""
    pages = {p.path for p in book_pages(root)}
    files = {path for pattern in SITE_INPUTS for path in root.glob(pattern)
             if path.is_file() and path not in pages and "__pycache__" not in path.parts}
    return _digest_files(list(files), root)


def render_keys(root: Path, stamps: Stamps) -> dict[str, str]:
    """Per page: what its rendering depends on (its whole text, its execution inputs, and the
    stamped cached outputs)."""
    package = package_digest(root)
    keys = {}
    for page in book_pages(root):
        outputs = (stamps.get(page.docname).get("outputs") or "") if page.has_code else ""
        keys[page.docname] = hashlib.sha256(
            f"{text_digest(page)}\0{input_digest(page, root, package)}\0{outputs}".encode()
        ).hexdigest()
    return keys


@dataclass
class RenderPlan:
    """What the next render must do: re-render everything, or re-read these pages."""

    everything: bool
    reread: list[str]
    keys: dict[str, str]
    site: str
    reason: str = ""


def render_plan(root: Path, say: Say = _quiet) -> RenderPlan:
    """Compare what was last rendered with the pages' inputs and cached outputs now."""
    record = _read_json(root / RENDERED, "the render record", say) or {}
    keys = render_keys(root, Stamps.load(root, say))
    site = site_digest(root)
    rendered = record.get("pages") if isinstance(record.get("pages"), dict) else {}
    if not record:
        everything, reason = True, "no record of an earlier render"
    elif record.get("site") is None:
        everything, reason = True, "the last render did not finish"
    elif record.get("site") != site:
        everything, reason = True, "the extensions, static files or configuration changed"
    else:
        everything, reason = False, ""
    reread = sorted(keys) if everything else sorted(d for d, k in keys.items() if rendered.get(d) != k)
    return RenderPlan(everything, reread, keys, site, reason)


def begin_render(root: Path) -> None:
    """Mark the render as under way: if it does not finish, the next one renders everything."""
    path = root / RENDERED
    record = _read_json(path, "the render record", _quiet) or {}
    record["site"] = None
    write_atomic(path, json.dumps(record, indent=1, sort_keys=True))


def finish_render(root: Path, plan: RenderPlan) -> None:
    """Record what a successful render rendered (the plan was taken before it started)."""
    write_atomic(root / RENDERED, json.dumps({"site": plan.site, "pages": plan.keys}, indent=1,
                                             sort_keys=True))
