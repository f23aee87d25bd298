"""Execute one page in a fresh kernel, each cell within a time limit: ``execute_page``.

The kernel runs in a process group of its own (``RUNNING_KERNELS`` lists the groups running now,
so that a Ctrl-C of the build kills them all). A cell past the limit is interrupted, the kernel
asked where it was (``INTERRUPT_GRACE``), then killed; the page's ``Result`` names the cell, the
``.md`` line that raised, the cell's source, what it printed last and the traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from freshness import read_notebook
from pages import Page

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The outermost frame of an IPython traceback is the cell itself: "Cell In[3], line 5".
CELL_FRAME = re.compile(r"Cell In\[\d+\], line (\d+)")
KERNEL_ENV = {
    # Two pages run at once on two cores: one thread each is faster and deterministic.
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
}
# Set in every kernel's environment: which build started it (the tests look for leftovers).
KERNEL_MARK = "MLPBOOK_BUILD_ROOT"
# After a cell's time limit: how long the interrupted kernel gets to report where it was.
INTERRUPT_GRACE = 2.0
KERNEL_START_TIMEOUT = 120
# Process groups of the kernels running now, killed whatever way the build ends.
RUNNING_KERNELS: set[int] = set()


@dataclass
class Result:
    """The outcome of executing one page."""

    docname: str
    ok: bool
    seconds: float
    cell: int | None = None
    line: int | None = None
    source: str = ""
    error: str = ""
    traceback: str = ""
    message: str = ""
    output: str = ""
    notebook: dict = field(default_factory=dict, repr=False)


class CellTimeout(Exception):
    """A cell ran past ``execute.timeout``; ``traceback`` is where the interrupt found it."""

    def __init__(self, limit: float, traceback: str):
        super().__init__(limit)
        self.limit, self.traceback = limit, traceback


# --- one page ----------------------------------------------------------------------------------


def kill_kernel(pgid: int) -> None:
    """Kill a kernel and everything it started (its process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    RUNNING_KERNELS.discard(pgid)


def md_line(page: Page, nb, index: int, line_in_cell: int | None) -> int | None:
    """The 1-based line of the ``.md`` file holding line ``line_in_cell`` of code cell ``index``.

    myst-nb's source map gives the line after the cell's opening fence; options (``:tags:``, a
    ``---`` block) and blank lines may come before the code, so the code is looked up there.
    """
    source_map = nb.metadata.get("source_map", [])
    if index >= len(source_map):
        return None
    lines = page.path.read_text(encoding="utf-8").splitlines()
    code = nb.cells[index].source.splitlines()
    start = source_map[index]
    for first in range(start, min(len(lines), start + 200)):
        if lines[first:first + len(code)] == code:
            start = first
            break
    return start + (line_in_cell or 1)


def cell_traceback(cell, exc: Exception) -> str:
    """The IPython traceback of a failed cell, without colours."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        return ANSI.sub("", "\n".join(errors[-1].get("traceback", [])))
    # nbclient's message repeats the cell source and output between rules before the traceback
    return ANSI.sub("", str(exc)).split("------------------\n")[-1]


def output_tail(cell, lines: int = 10) -> str:
    """The last lines the cell printed, for the failure report."""
    text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")
    return "\n".join(ANSI.sub("", text).rstrip().splitlines()[-lines:])


async def run_cell(client, km, cell, index: int, timeout: float) -> None:
    """Execute one cell; past ``timeout`` interrupt it, note where it was, kill its kernel."""
    from nbclient.exceptions import CellExecutionError

    task = asyncio.ensure_future(client.async_execute_cell(cell, index))
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        task.result()  # raises CellExecutionError when the cell failed
        return
    where = ""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(km.interrupt_kernel(), INTERRUPT_GRACE)
        done, _ = await asyncio.wait({task}, timeout=INTERRUPT_GRACE)
        if task in done and isinstance(task.exception(), CellExecutionError):
            where = cell_traceback(cell, task.exception())
    task.cancel()
    kill_kernel(km.provisioner.pgid)
    raise CellTimeout(timeout, where)


async def execute_page(root: Path, page: Page, timeout: float) -> Result:
    """Execute one page top to bottom in a fresh kernel; stop at the first failing cell.

    The kernel imports ``mlpbook`` from ``root/code``, so a build of any copy of the repository
    (a test's, a mutant's) runs that copy's package, not the one installed in .venv. Whatever
    happens (success, failure, time-out, Ctrl-C), the kernel's process group is killed on return.
    """
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    env = {**os.environ, **KERNEL_ENV, KERNEL_MARK: str(root),
           "PYTHONPATH": os.pathsep.join([str(root / "code")] + [
               p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    pristine = read_notebook(page.path)
    nb = copy.deepcopy(pristine)
    start = time.perf_counter()
    index = None
    # IPC transport: local sockets in a private directory (removed afterwards), and no "running
    # over TCP without encryption" warning. The kernel's own log would interleave across
    # parallel pages, so it goes nowhere; cell output is what the page shows.
    with tempfile.TemporaryDirectory(prefix="mlpbook-kernel-") as sockets:
        km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=f"{sockets}/kernel",
                                connection_file=f"{sockets}/kernel.json")
        kc = None
        try:
            await km.start_kernel(env=env, cwd=str(page.path.parent), stderr=subprocess.DEVNULL,
                                  extra_arguments=["--HistoryManager.hist_file=:memory:"])
            RUNNING_KERNELS.add(km.provisioner.pgid)
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
            # Output that arrives after a cell's reply is waited for (nbclient's iopub_timeout):
            # up to 30 s on a loaded machine, rather than silently dropped after 4.
            client = NotebookClient(nb, km=km, timeout=None, kernel_name="python3",
                                    record_timing=False, iopub_timeout=min(timeout, 30),
                                    resources={"metadata": {"path": str(page.path.parent)}})
            client.kc = kc
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    await run_cell(client, km, cell, index, timeout)
        except CellTimeout as exc:
            frame = CELL_FRAME.search(exc.traceback)
            line = md_line(page, nb, index, int(frame.group(1)) if frame else None)
            limit = f"{exc.limit:g} s"
            return Result(page.docname, False, time.perf_counter() - start, index, line,
                          nb.cells[index].source, "CellTimeoutError", exc.traceback,
                          f"cell {index} ({page.docname}.md:{line}) was still running after the "
                          f"{limit} limit (execute.timeout in _config.yml): stopped, its kernel "
                          "killed", output_tail(nb.cells[index]))
        except CellExecutionError as exc:
            text = cell_traceback(nb.cells[index], exc)
            frame = CELL_FRAME.search(text)
            line = md_line(page, nb, index, int(frame.group(1)) if frame else None)
            last = text.strip().splitlines()[-1] if text.strip() else ""
            return Result(page.docname, False, time.perf_counter() - start, index, line,
                          nb.cells[index].source, exc.ename or type(exc).__name__, text, last,
                          output_tail(nb.cells[index]))
        except Exception as exc:  # kernel died, bad notebook: still a failure of this page
            cell = nb.cells[index] if index is not None else None
            return Result(page.docname, False, time.perf_counter() - start, index,
                          md_line(page, nb, index, None) if cell else None,
                          cell.source if cell else "", type(exc).__name__,
                          ANSI.sub("", repr(exc)), ANSI.sub("", str(exc)),
                          output_tail(cell) if cell else "")
        finally:
            if km.provisioner is not None:
                kill_kernel(km.provisioner.pgid)
            if kc is not None:
                kc.stop_channels()
            with contextlib.suppress(Exception):
                await km.shutdown_kernel(now=True)  # reaps the process, removes its files
    seconds = time.perf_counter() - start
    # jupyter-cache hashes code sources, cell metadata and the kernelspec, and nbclient rewrites
    # the latter two: cache the page as read, with only the outputs added.
    for cell, ran in zip(pristine.cells, nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
    pristine.metadata.pop("source_map", None)
    return Result(page.docname, True, seconds, notebook=pristine)
