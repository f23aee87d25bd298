"""What every self-check shares: the verdict, running the student's code safely, and numbers.

``CheckResult`` is the verdict (truthy iff passed, with partial ``credit`` per part and the
``flag`` of a rule the page states that the code broke). ``_run`` runs a check's body under the
time limit with the student's prints captured, so that a check never raises or hangs;
``_watching`` records which library functions the student's code called, so that a check can
refuse an answer the library already holds (``Value.tanh``, ``collapse_linear``) or a rule the
page states ("no autograd").
"""

from __future__ import annotations

import contextlib
import io
import math
import numbers
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from mlpbook import validation
from mlpbook.engine import Value
from mlpbook.timelimit import TimeLimitExceeded, call_with_time_limit

#: Seconds a check lets the student's code run before stopping it.
TIME_LIMIT = 10.0
#: Characters of the student's own printed output shown with the verdict.
MAX_OUTPUT = 2000


HIDDEN = "(not shown: a graded answer)"


@dataclass
class CheckResult:
    """Verdict of one self-check; ``bool(result)`` is ``result.passed``.

    ``credit`` (0 to 1) is the share of the check's parts that passed (per stage, per
    gradient); None means all or nothing. ``flag`` names a rule of the page that the code
    broke (``"autograd"``), for the instructor. ``reveal=False`` keeps a graded answer's
    expected value out of the message."""

    name: str
    passed: bool
    message: str
    expected: Any = None
    observed: Any = None
    hint: str = ""
    credit: float | None = None
    flag: str = ""
    reveal: bool = True

    def __bool__(self) -> bool:
        return self.passed

    @property
    def score(self) -> float:
        """Points out of 1: 1 if passed, else the credit of the parts that passed."""
        if self.passed:
            return 1.0
        return 0.0 if self.credit is None else max(0.0, min(1.0, float(self.credit)))

    def __str__(self) -> str:
        if self.passed:
            return f"✅ {self.name}: {self.message}"
        text = f"❌ {self.name}: {self.message}"
        if self.expected is not None or self.observed is not None:
            expected = self.expected if self.reveal else HIDDEN
            text += f" expected {expected}, observed {self.observed}"
        text += f", hint: {self.hint}" if self.hint else ""
        if self.credit is not None and 0 < self.score < 1:
            text += f" (partial credit: {self.score:.2g})"
        return text

    __repr__ = __str__


class _Failed(Exception):
    """Internal: carries a failed CheckResult out of a check's body."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


def _fail(name: str, message: str, expected: Any, observed: Any, hint: str) -> _Failed:
    return _Failed(CheckResult(name, False, message, expected, observed, hint))


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0][:200]}" if text else type(err).__name__


def _call(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call the student's ``fn``; turn any exception into a one-line failed result."""
    try:
        return fn(*args)
    except _Failed:
        raise
    except (Exception, SystemExit) as err:  # noqa: BLE001 - any student error becomes a verdict
        hint = ("replace `raise NotImplementedError` with your code" if isinstance(
            err, NotImplementedError) else "run your function on its own to see the traceback")
        raise _fail(name, f"your function raised {_first_line(err)}.", "no exception",
                    type(err).__name__, hint) from None


class _CappedOutput(io.StringIO):
    """Keeps the first ``MAX_OUTPUT`` characters written to it and counts the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def write(self, s: str) -> int:
        s = str(s)
        room = MAX_OUTPUT - self.tell()
        super().write(s[:max(room, 0)])
        self.dropped += max(len(s) - max(room, 0), 0)
        return len(s)

    def text(self) -> str:
        out = self.getvalue()
        if self.dropped:
            out += f"\n... ({self.dropped} more characters of output cut)\n"
        return out


def _check_settings(verbose: object, timeout: object, **tolerances: object) -> float:
    """Validate the settings every check shares; return the timeout in seconds."""
    validation.boolean(verbose, "verbose")
    for key, value in tolerances.items():
        validation.number(value, key, low=0.0)
    return validation.number(timeout, "timeout", low=0.01, high=3600.0)


def _run(name: str, body: Callable[[], CheckResult], verbose: bool, timeout: float,
         fn: object = print, what: str = "your function") -> CheckResult:
    """Run ``body`` under the time limit, capturing prints; always return a CheckResult."""
    if not callable(fn):
        result = CheckResult(name, False, f"{name} needs {what} (something callable).",
                             "a function", validation.describe(fn),
                             f"pass the function itself, e.g. {name}(my_function), without "
                             f"calling it")
        return _report(result, "", verbose)
    output = _CappedOutput()
    try:
        with contextlib.redirect_stdout(output):
            result = call_with_time_limit(body, seconds=timeout)
    except _Failed as failed:
        result = failed.result
    except TimeLimitExceeded as err:
        result = CheckResult(
            name, False, f"your code did not finish within {timeout:g} s, so it was stopped"
            f"{'' if err.stopped else ' (it may still be running)'}.",
            f"a result within {timeout:g} s", "still running after the time limit",
            "look for a loop that never ends: a `while` whose condition never becomes False, "
            "or a loop that keeps adding to what it loops over")
    except (Exception, SystemExit) as err:  # noqa: BLE001 - a check never raises
        result = CheckResult(name, False, f"your code produced something the check cannot use "
                             f"({_first_line(err)}).", "what the exercise asks for",
                             validation.describe(err), "run your function on its own and look "
                             "at what it returns")
    return _report(result, output.text(), verbose)


def _report(result: CheckResult, output: str, verbose: bool) -> CheckResult:
    if output:
        print(output, end="" if output.endswith("\n") else "\n")
    if verbose:
        print(result)
    return result


# ----- what the student's code returned, as numbers -------------------------------------------
def _real(name: str, x: Any, what: str, hint: str) -> float:
    """``x`` as a finite float, or a failed result saying what ``what`` was instead."""
    if isinstance(x, Tensor) and x.numel() == 1 and not x.is_complex() and x.dtype != torch.bool:
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise _fail(name, f"{what} must be a number.", "a float", validation.describe(x), hint)
    if not math.isfinite(x):
        raise _fail(name, f"{what} is not finite.", "a finite float", float(x), hint)
    return float(x)


def _as_value(name: str, out: Any) -> Value:
    if not isinstance(out, Value):
        raise _fail(name, "your function must return a Value.", "a Value",
                    validation.describe(out), "build the result with Value(...) and return it")
    return out


def _tensor(name: str, x: Any, what: str, hint: str) -> Tensor:
    """``x`` (tensor, array, nested list or number) as a finite float64 tensor, or ❌."""
    if x is None or x is Ellipsis:
        raise _fail(name, f"{what} is missing.", "a tensor", validation.describe(x), hint)
    if isinstance(x, Tensor):
        x = x.detach()
        if x.is_complex() or x.dtype == torch.bool:
            raise _fail(name, f"{what} must hold real numbers.", "a float tensor",
                        validation.describe(x), hint)
        x = x.to(torch.float64)
    else:
        try:
            x = torch.as_tensor(validation.array(x, what, finite=False, nonempty=False))
        except (TypeError, ValueError) as err:
            raise _fail(name, f"{what} must be a tensor of numbers ({err}).", "a float tensor",
                        validation.describe(x), hint) from None
    if not bool(torch.isfinite(x).all()):
        raise _fail(name, f"{what} holds nan or inf.", "finite numbers",
                    _short(x), hint)
    return x


def _short(t: Tensor) -> str:
    flat = t.reshape(-1)[:3].tolist()
    return "[" + ", ".join(f"{v:.4g}" for v in flat) + (", ...]" if t.numel() > 3 else "]")


def _close(a: float, b: float, atol: float, rtol: float) -> bool:
    return math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)


def _points(points: object) -> list[float]:
    pts = validation.sequence(points, "points", min_len=1, what="numbers")
    return [validation.number(x, f"points[{i}]") for i, x in enumerate(pts)]


# ----- what the student's code calls -----------------------------------------------------------
@contextlib.contextmanager
def _watching(codes: dict[types.CodeType, str]) -> Iterator[set[str]]:
    """Inside, record (in the yielded set) the name of every function of ``codes`` that the
    code running in this thread calls. A profile hook: it changes nothing the code sees."""
    called: set[str] = set()
    previous = sys.getprofile()

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in codes:
            called.add(codes[frame.f_code])

    sys.setprofile(hook)
    try:
        yield called
    finally:
        sys.setprofile(previous)


def _code_of(fn: Any) -> types.CodeType:
    return getattr(fn, "__func__", fn).__code__


AUTOGRAD = {_code_of(torch.autograd.grad): "torch.autograd.grad",
            _code_of(torch.autograd.backward): "torch.autograd.backward",
            _code_of(torch.Tensor.backward): "Tensor.backward"}


def _refuse_library(name: str, called: set[str], what: str) -> None:
    """A failed result if the student's code called the library's own answer."""
    if called:
        used = ", ".join(sorted(called))
        raise _fail(name, f"your {what} calls {used}, which already holds the answer.",
                    f"your own {what}", f"a call to {used}",
                    f"write the {what} yourself; the exercise grades your code, not the "
                    f"library's")


def _refuse_autograd(name: str, called: set[str], what: str) -> None:
    """A failed, flagged result if the student's code called autograd (the page forbids it)."""
    if called:
        used = ", ".join(sorted(called))
        result = CheckResult(name, False, f"the exercise says \"no autograd\", but your {what} "
                             f"calls {used}.", "plain tensor operations", f"a call to {used}",
                             "compute each gradient from the formulas you derived",
                             flag="autograd")
        raise _Failed(result)
