"""The notebooks' first cell: install ``mlpbook`` where it is missing, or stop with one message.

- It registers a stand-in ``myst_nb`` module first (only ``glue``, which just displays), where
  ``myst_nb`` is missing, so a page's ``from myst_nb import glue`` works on Colab.
- Where ``mlpbook`` is importable (the book's own environment) it does nothing more.
- Otherwise it runs ``pip install --no-deps <source>`` (never touching Colab's torch, numpy or
  matplotlib). ``<source>`` is the repository at the commit the site was built from, or
  ``MLPBOOK_PIP_SOURCE`` (the tests point it at a local ``code/``). If that fails, or leaves
  ``mlpbook`` unimportable, the cell raises an error whose whole display is one message naming
  the source and what to do, so "Run all" stops there and never reaches a later
  ``ModuleNotFoundError``.
"""

from __future__ import annotations

SETUP_CELL_ID = "mlpbook-setup"

TEMPLATE = '''\
# @title Setup: installs the course package `mlpbook` if it is missing (run this first)
# On Colab this installs `mlpbook` from the commit this page was built from; where it is
# already installed it does nothing. torch, numpy and matplotlib are never (re)installed.
import importlib, importlib.util, os, subprocess, sys, types

if importlib.util.find_spec("myst_nb") is None:
    def glue(name, variable, display=True):
        """Stand-in for myst_nb.glue (the book's way of quoting numbers): display only."""
        if display:
            from IPython.display import display as _display
            _display(variable)

    sys.modules["myst_nb"] = types.ModuleType("myst_nb", "Stand-in for myst_nb (glue only).")
    sys.modules["myst_nb"].glue = glue
    del glue


class MlpbookSetupError(Exception):
    """Stops "Run all" at this cell; IPython shows only the message, not a traceback."""

    def _render_traceback_(self):
        return str(self).splitlines()


if importlib.util.find_spec("mlpbook") is None:
    _source = os.environ.get("MLPBOOK_PIP_SOURCE") or {requirement!r}
    _todo = ({todo!r} if not os.environ.get("MLPBOOK_PIP_SOURCE")
             else "Check MLPBOOK_PIP_SOURCE, then run this cell again.")
    if not _source:
        raise MlpbookSetupError("❌ The course package mlpbook is not installed, and this notebook "
                                "does not know where to install it from.\\n" + _todo)
    print("Installing mlpbook from", _source)
    try:
        _pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", _source],
                              capture_output=True, text=True, timeout=600)
        _why = (_pip.stderr.strip().splitlines() or ["pip exited with " + str(_pip.returncode)])[-1]
    except subprocess.TimeoutExpired:
        _why = "pip took more than 10 minutes"
    importlib.invalidate_caches()
    if importlib.util.find_spec("mlpbook") is None:
        raise MlpbookSetupError("❌ Could not install the course package mlpbook from " + _source
                                + "\\n   pip: " + _why + "\\n" + _todo)
    import mlpbook
    print("mlpbook", mlpbook.__version__, "installed in", os.path.dirname(mlpbook.__file__))
else:
    print("mlpbook is already installed: nothing to do.")
'''


def setup_source(requirement: str, todo: str) -> str:
    """The setup cell's code. ``requirement``: the pip source ("" if the build had no GitHub
    location); ``todo``: what to tell the student when the install fails."""
    return TEMPLATE.format(requirement=requirement, todo=todo).rstrip("\n")


def install_advice(repo_url: str | None, commit: str | None) -> str:
    """What the setup cell tells a student whose install failed."""
    if repo_url is None:
        return ("This notebook was built from a copy of the book without a GitHub location: "
                "install mlpbook yourself (pip install <the book's code/ folder>), or set "
                "MLPBOOK_PIP_SOURCE, then run this cell again.")
    return (f"The repository {repo_url} must be public and commit {commit} pushed to it, and "
            "this runtime needs internet access. Fix that (or tell your instructor), then run "
            "this cell again.")
