"""The build's state files: written atomically, read back whole or not at all.

``write_atomic`` writes a temporary file and renames it, so an interrupted build leaves the old
content or the new, never half; ``no_interrupt`` holds Ctrl-C back while writes that belong
together are made; ``_read_json`` reads a state file, and an unreadable one is said (through a
``Say``) and removed, so the build carries on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterator

Say = Callable[[str], None]


def _quiet(message: str) -> None:
    """The default ``say``: repairs are silent unless the caller wants to hear of them."""


# --- writing safely --------------------------------------------------------------------------


@contextlib.contextmanager
def no_interrupt() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back while a group of writes that belong together is made.

    A Ctrl-C that came meanwhile is delivered afterwards, to whichever handler was in place (the
    default one raises KeyboardInterrupt; asyncio's cancels the running build).
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(
            signal.SIGINT) in (None, signal.SIG_DFL, signal.SIG_IGN):
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            signal.raise_signal(signal.SIGINT)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_json(path: Path, what: str, say: Say) -> dict | None:
    """The JSON object in ``path``; None when absent, or unreadable (then said and removed)."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except (ValueError, UnicodeDecodeError) as exc:
        say(f"{what} {path.name} is unreadable ({type(exc).__name__}): discarded")
        path.unlink()
        return None


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
