"""How long each notebook's "Run all" takes (without the install), for ``make bench``.

Colab's patience is the book's page budget, 10 s. Each notebook of a built site runs top to
bottom in a fresh kernel, one at a time, where ``mlpbook`` is importable from the book's
``code/`` (so the setup cell does nothing); the time is that of the cells, not of starting the
kernel, as a student pressing "Run all" in a running Colab would see it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from .location import NOTEBOOK_DIR

KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def run_all_seconds(notebook: Path, code_dir: Path, timeout: int = 300) -> float:
    """Seconds to run every cell of ``notebook``; raises if a cell fails."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    paths = [str(code_dir)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**os.environ, **KERNEL_ENV, "PYTHONPATH": os.pathsep.join(paths)}
    env.pop("MLPBOOK_PIP_SOURCE", None)
    with tempfile.TemporaryDirectory(prefix="mlpbook-nb-kernel-") as sockets:
        km = KernelManager(kernel_name="python3", transport="ipc", ip=f"{sockets}/kernel")
        client = NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(notebook.parent)}})
        with client.setup_kernel(env=env, stderr=subprocess.DEVNULL):
            start = time.perf_counter()
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            return time.perf_counter() - start


def notebook_seconds(root: Path, runs: int = 1) -> dict[str, list[float]]:
    """``{slug: [seconds per run]}`` for every notebook of the site built in ``root``."""
    found = sorted((root / "_build" / "html" / NOTEBOOK_DIR).glob("*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no notebooks in {root / '_build' / 'html' / NOTEBOOK_DIR}")
    return {nb.stem: [run_all_seconds(nb, root / "code") for _ in range(runs)] for nb in found}


if __name__ == "__main__":  # python -m colab_notebooks.timing [ROOT] (from tools/sphinxext)
    import sys

    for name, seconds in notebook_seconds(Path(sys.argv[1] if len(sys.argv) > 1 else ".")).items():
        print(f"{name:12s} {min(seconds):5.1f} s")
