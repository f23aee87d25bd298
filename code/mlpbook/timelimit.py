"""Run a student's function with a time limit, and really stop it when the time is up.

``call_with_time_limit(fn, seconds=...)`` returns ``fn()`` or raises ``TimeLimitExceeded``.

- **Main thread on Linux/macOS** (a Jupyter, Colab or script kernel runs cells there): a
  ``SIGALRM`` timer (``signal.setitimer``) raises an exception *inside* the function, wherever
  Python is executing: a busy loop, ``time.sleep``, a loop that prints. The exception derives
  from ``BaseException``, so a student's ``except Exception`` does not swallow it, and the
  timer repeats every 50 ms until the function has let go. The caller's own alarm handler and
  timer are restored afterwards.
- **Anywhere else** (another thread, Windows): the function runs in a daemon thread; when time
  is up an asynchronous exception is sent into that thread (``PyThreadState_SetAsyncExc``),
  which stops Python code at its next bytecode. Code stuck in one long C call cannot be
  stopped this way; then ``TimeLimitExceeded.stopped`` is False.
"""

from __future__ import annotations

import ctypes
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from mlpbook import validation

__all__ = ["TimeLimitExceeded", "call_with_time_limit"]

_REPEAT = 0.05  # seconds between alarms once the limit has passed


class TimeLimitExceeded(Exception):
    """The function did not return within ``seconds``; ``stopped`` says if it was stopped."""

    def __init__(self, seconds: float, stopped: bool = True) -> None:
        super().__init__(f"did not finish within {seconds:g} s"
                         + ("" if stopped else " (and could not be stopped)"))
        self.seconds = seconds
        self.stopped = stopped


class _Stop(BaseException):
    """Raised inside the runaway function (a BaseException: ``except Exception`` misses it)."""


def call_with_time_limit(fn: Callable[..., Any], *args: Any, seconds: float,
                         **kwargs: Any) -> Any:
    """Return ``fn(*args, **kwargs)``; raise ``TimeLimitExceeded`` if it runs over ``seconds``.

    Exceptions raised by ``fn`` propagate unchanged.
    """
    validation.function(fn, "fn")
    seconds = validation.number(seconds, "seconds", low=1e-3, high=86400.0)
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        return _with_alarm(fn, args, kwargs, seconds)
    return _with_thread(fn, args, kwargs, seconds)


def _with_alarm(fn: Callable[..., Any], args: tuple, kwargs: dict, seconds: float) -> Any:
    armed = True

    def on_alarm(signum: int, frame: Any) -> None:
        # Never raise in this module's own frames: they are cleaning up after the function.
        if armed and (frame is None or frame.f_globals.get("__name__") != __name__):
            raise _Stop

    previous = signal.signal(signal.SIGALRM, on_alarm)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds, _REPEAT)
    start = time.monotonic()
    try:
        return fn(*args, **kwargs)
    except _Stop:
        raise TimeLimitExceeded(seconds) from None
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:  # someone else's timer was running: give it back what is left
            left = max(outer_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def _with_thread(fn: Callable[..., Any], args: tuple, kwargs: dict, seconds: float) -> Any:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except _Stop:
            box["stopped"] = True
        except BaseException as err:  # noqa: BLE001 - handed to the caller below
            box["error"] = err

    worker = threading.Thread(target=run, name="mlpbook-time-limit", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        deadline = time.monotonic() + 2.0
        while worker.is_alive() and time.monotonic() < deadline:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident),
                                                       ctypes.py_object(_Stop))
            worker.join(_REPEAT)
        raise TimeLimitExceeded(seconds, stopped=not worker.is_alive())
    if "error" in box:
        raise box["error"]
    if box.get("stopped"):  # stopped by an outer limit's async exception
        raise TimeLimitExceeded(seconds)
    return box["value"]
