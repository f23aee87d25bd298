"""Every self-check is total: a zoo of broken student functions, endless loops included.

Each check of ``mlpbook.checks`` is fed each broken function (or, for ``check_collapse``,
``check_capacity`` and ``check_answer``, each broken answer). Every call must return a failing
``CheckResult`` (``check_capacity``: three, one per answer) whose text is ``❌ ... expected ...,
observed ..., hint: ...``, raise nothing, and come back within the time limit plus a margin
for a loaded machine. Loops that never end are stopped for real:
in the main thread by SIGALRM, elsewhere by an asynchronous exception in a worker thread.
"""

from __future__ import annotations

import math
import re
import signal
import threading
import time
from typing import Any

import pytest
import torch
from torch import nn

from mlpbook import checks
from mlpbook.data import two_moons
from mlpbook.engine import Value
from mlpbook.models import make_mlp
from mlpbook.train import History, train

LIMIT = 0.3    # seconds given to the student's code in these tests
MARGIN = 3.0   # seconds of slack for a busy 2-core machine


def _mutate_inputs(*args: Any) -> Any:
    """Changes every input in place, then returns something non-linear and wrong."""
    for a in args:
        if isinstance(a, torch.Tensor):
            a.mul_(2)
        elif isinstance(a, Value):
            a.data, a.grad = 99.0, 5.0
        elif isinstance(a, nn.Module):
            with torch.no_grad():
                for p in a.parameters():
                    p.mul_(2)
    return args[0] ** 2 if not isinstance(args[0], nn.Module) else None


def _floats_the_model(*args: Any) -> Any:
    for a in args:
        if isinstance(a, nn.Module):
            a.float()
            return a
    return None


def _grad_set_to_none(*args: Any) -> Any:
    if isinstance(args[0], Value):
        v = args[0]
        out = Value(math.tanh(v.data), _prev=(v,), _op="tanh")

        def _backward() -> None:
            v.grad = None

        out._backward = _backward
        return out
    return None


def _backward_not_callable(*args: Any) -> Any:
    out = Value(0.5, _prev=(args[0],) if isinstance(args[0], Value) else ())
    out._backward = None
    return out


def _busy(*args: Any) -> Any:
    while True:
        pass


def _sleeps(*args: Any) -> Any:
    while True:
        time.sleep(0.05)


def _prints(*args: Any) -> Any:
    i = 0
    while True:
        print("step", i)
        i += 1


def _swallows_exceptions(*args: Any) -> Any:
    while True:
        try:
            time.sleep(0.01)
        except Exception:  # noqa: BLE001 - a student's catch-all must not defeat the limit
            pass


def _recurses(*args: Any) -> Any:
    return _recurses(*args)


def _raises(exc: BaseException):
    def fn(*args: Any) -> Any:
        raise exc
    return fn


def _returns(value: Any):
    return lambda *args: value


ZOO = {
    "not implemented": _raises(NotImplementedError("your code here")),
    "raises ValueError": _raises(ValueError("oops")),
    "calls exit()": _raises(SystemExit(1)),
    "returns None": _returns(None),
    "returns ...": _returns(...),
    "returns a string": _returns("0.5"),
    "returns True": _returns(True),
    "returns a complex number": _returns(1 + 2j),
    "returns nan": _returns(math.nan),
    "returns a ragged list": _returns([[1.0, 2.0], [3.0]]),
    "returns a tuple of None": _returns((None, None, None, None)),
    "returns complex tensors": _returns(tuple(torch.zeros(2, dtype=torch.complex128)
                                              for _ in range(4))),
    "returns bool tensors": _returns(tuple(torch.zeros(2, dtype=torch.bool) for _ in range(4))),
    "returns ragged lists": _returns(([[1.0], [1.0, 2.0]],) * 4),
    "returns a generator": lambda *args: (x for x in args),
    "returns the wrong shape": _returns(torch.zeros(7, 7, dtype=torch.float64)),
    "returns nan tensors": _returns(tuple(torch.full((2,), math.nan) for _ in range(4))),
    "mutates its inputs": _mutate_inputs,
    "calls model.float()": _floats_the_model,
    "sets grad to None": _grad_set_to_none,
    "_backward is not callable": _backward_not_callable,
    "recurses forever": _recurses,
    "busy loop": _busy,
    "sleep loop": _sleeps,
    "printing loop": _prints,
    "swallows exceptions in a loop": _swallows_exceptions,
}

LINEAR = make_mlp(2, [3], 1, activation="identity", seed=0, dtype=torch.float64)
MOONS = two_moons(8, seed=0)


def _fit(width: int, depth: int) -> History:
    """A width x depth experiment's recipe, tiny: what the lab's ``fit`` is, in a few ms."""
    model = make_mlp(2, [width] * depth, 1, seed=0)
    return train(model, *MOONS, X_val=MOONS[0], y_val=MOONS[1], n_epochs=2)


GRID = {"widths": (2, 3), "depths": (1,)}
RUNS = {(w, 1): _fit(w, 1) for w in GRID["widths"]}
BEST_VAL = min(RUNS, key=lambda k: RUNS[k].val_loss[-1])
BEST_TRAIN = min(RUNS, key=lambda k: RUNS[k].train_loss[-1])
CHECKS = {
    "check_backward": lambda fn: checks.check_backward(fn, verbose=False, timeout=LIMIT),
    "check_tanh": lambda fn: checks.check_tanh(fn, verbose=False, timeout=LIMIT),
    "check_mlp_backward": lambda fn: checks.check_mlp_backward(fn, verbose=False, timeout=LIMIT),
    "check_is_linear": lambda fn: checks.check_is_linear(fn, in_features=2, verbose=False,
                                                         timeout=LIMIT),
    "check_collapse": lambda fn: checks.check_collapse(LINEAR, fn, verbose=False, timeout=LIMIT),
    "check_training_loop": lambda fn: checks.check_training_loop(fn, verbose=False,
                                                                 timeout=LIMIT),
    "check_gradcheck": lambda fn: checks.check_gradcheck(fn, verbose=False, timeout=LIMIT),
    # the lab's fit, broken (the student may edit it): nothing can be checked
    "check_capacity": lambda fn: checks.check_capacity(RUNS, BEST_VAL, BEST_TRAIN, fn,
                                                       verbose=False, timeout=LIMIT, **GRID),
}


def _assert_clean_failure(result: Any, elapsed: float, limit: float = LIMIT) -> None:
    assert isinstance(result, checks.CheckResult) and not result.passed and not result
    text = str(result)
    assert text.startswith("❌") and "Traceback" not in text, text
    for word in ("expected", "observed", "hint"):
        assert word in text, text
    assert elapsed <= limit + MARGIN, f"took {elapsed:.1f} s: {text}"


@pytest.mark.parametrize("student", list(ZOO))
@pytest.mark.parametrize("check", list(CHECKS))
def test_every_check_fails_cleanly_on_every_broken_function(check: str, student: str,
                                                           capsys) -> None:
    before = (signal.getsignal(signal.SIGALRM), threading.active_count())
    start = time.monotonic()
    result = CHECKS[check](ZOO[student])
    elapsed = time.monotonic() - start
    for one in result if isinstance(result, list) else [result]:
        _assert_clean_failure(one, elapsed)
    out = capsys.readouterr().out
    assert len(out) <= checks.MAX_OUTPUT + 200  # a printing loop's output is cut
    # the alarm handler is the caller's again, no timer is left running, no thread leaked
    assert (signal.getsignal(signal.SIGALRM), threading.active_count()) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)



def stable_id(value: Any) -> str:
    """A parameter's repr without memory addresses: the same test names in every process (the
    workers of `make test` must collect the same tests)."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))


BROKEN_ANSWERS = [None, ..., "5", b"5", True, 5 + 0j, math.nan, math.inf, [[1, 2], [3]], [5, 5],
                  torch.tensor(True), object(), print]


@pytest.mark.parametrize("observed", BROKEN_ANSWERS, ids=stable_id)
def test_check_answer_fails_cleanly_on_every_broken_answer(observed: Any) -> None:
    start = time.monotonic()
    _assert_clean_failure(checks.check_answer("q", observed, 5, verbose=False),
                          time.monotonic() - start)


@pytest.mark.parametrize("linear", [None, ..., "W", (None, None), (torch.zeros(1, 2), None),
                                    ([[1.0, 2.0], [3.0]], [0.0]), (1 + 2j, 0.0),
                                    nn.Linear(2, 1, bias=False), nn.Linear(5, 1)], ids=stable_id)
def test_check_collapse_fails_cleanly_on_every_broken_layer(linear: Any) -> None:
    start = time.monotonic()
    _assert_clean_failure(checks.check_collapse(LINEAR, linear, verbose=False),
                          time.monotonic() - start)


class _EndlessHistory:
    """A ``History`` look-alike whose losses never come: a property that loops forever."""

    @property
    def train_loss(self) -> list[float]:
        while True:
            pass


BROKEN_RUNS = [None, ..., {}, [], "runs", {(2, 1): None}, {(2, 1): RUNS[(2, 1)]},
               {**RUNS, (2, 1): RUNS[(3, 1)]}, {**RUNS, (2, 1): "History"},
               {**RUNS, (2, 1): History(train_loss=[], val_loss=[])},
               {**RUNS, (2, 1): History(train_loss=[math.nan], val_loss=[0.5])},
               {**RUNS, (2, 1): History(train_loss=[1 + 2j], val_loss=[0.5])},
               {**RUNS, (2, 1): _EndlessHistory()}]


@pytest.mark.parametrize("runs", BROKEN_RUNS, ids=stable_id)
def test_check_capacity_fails_cleanly_on_every_broken_runs(runs: Any) -> None:
    """A wrong ``runs`` is a ❌ for runs; the two answers, right here, are still graded."""
    start = time.monotonic()
    result = checks.check_capacity(runs, BEST_VAL, BEST_TRAIN, _fit, verbose=False,
                                   timeout=1.0, **GRID)
    _assert_clean_failure(result[0], time.monotonic() - start, limit=1.0)
    assert [r.passed for r in result[1:]] == [True, True], result


@pytest.mark.parametrize("answer", BROKEN_ANSWERS + [(3, 3), BEST_VAL[::-1]], ids=stable_id)
def test_check_capacity_fails_cleanly_on_every_broken_answer(answer: Any) -> None:
    start = time.monotonic()
    result = checks.check_capacity(RUNS, answer, answer, _fit, verbose=False, timeout=5.0,
                                   **GRID)
    assert result[0].passed, result[0]
    for one in result[1:]:
        _assert_clean_failure(one, time.monotonic() - start, limit=5.0)


def test_check_capacity_passes_the_right_experiment(capsys) -> None:
    result = checks.check_capacity(RUNS, BEST_VAL, BEST_TRAIN, _fit, timeout=5.0, **GRID)
    assert len(result) == 3 and all(result), result
    assert capsys.readouterr().out.count("✅") == 3


def test_check_gradcheck_names_the_wrong_gradient() -> None:
    def backward(X, y, W1, b1, W2, b2, wrong=None):
        Z = X @ W1.T + b1
        H = torch.relu(Z)
        d = 2 * (H @ W2.T + b2 - y) / y.numel()
        dZ = (d @ W2) * (Z > 0)
        grads = {"dW1": dZ.T @ X, "db1": dZ.sum(0), "dW2": d.T @ H, "db2": d.sum(0)}
        if wrong:
            grads[wrong] = 2 * grads[wrong]
        return tuple(grads.values())

    assert checks.check_gradcheck(backward, verbose=False)
    for wrong in ("dW1", "db1", "dW2", "db2"):
        result = checks.check_gradcheck(lambda *a, w=wrong: backward(*a, wrong=w),
                                        verbose=False)
        assert not result and f"for {wrong}." in str(result), result


@pytest.mark.parametrize("student", ["busy loop", "sleep loop", "printing loop",
                                     "swallows exceptions in a loop"])
def test_endless_loops_are_stopped_outside_the_main_thread_too(student: str) -> None:
    """The fallback for a check run from a worker thread (or where SIGALRM does not exist)."""
    box: dict[str, Any] = {}

    def run() -> None:
        start = time.monotonic()
        box["result"] = checks.check_tanh(ZOO[student], verbose=False, timeout=LIMIT)
        box["elapsed"] = time.monotonic() - start

    caller = threading.Thread(target=run)
    caller.start()
    caller.join(LIMIT + 2 * MARGIN)
    assert not caller.is_alive()
    _assert_clean_failure(box["result"], box["elapsed"])
    time.sleep(0.2)
    assert not any(t.name == "mlpbook-time-limit" for t in threading.enumerate())  # stopped


def test_a_check_inside_an_outer_time_limit_gives_the_outer_timer_back() -> None:
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        checks.check_tanh(_busy, verbose=False, timeout=LIMIT)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left < 5.0 - LIMIT + 0.5 and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.slow  # starts a Jupyter kernel: not in the fast tier (make check)
def test_an_endless_loop_in_a_jupyter_kernel_is_stopped() -> None:
    """The real channel: a check in a cell of a Jupyter kernel (as in the lab and in Colab)."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    cells = ["import time\nfrom mlpbook.checks import check_tanh\n"
             "def tanh(v):\n    while True:\n        time.sleep(0.01)",
             "start = time.monotonic()\nresult = check_tanh(tanh, timeout=1)\n"
             "print('elapsed', time.monotonic() - start)",
             "print('kernel alive', result.passed)"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    out = ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]
    assert out[1].startswith("❌ check_tanh: your code did not finish within 1 s"), out[1]
    assert float(out[1].split("elapsed")[1]) <= 1 + MARGIN
    assert out[2].strip() == "kernel alive False"
