"""Argument checks shared by every public function of ``mlpbook``: one place, one wording.

Each check returns the argument in a plain form (a float, an int, a tensor) or raises
``TypeError`` (the wrong kind of thing) or ``ValueError`` (the right kind, a wrong value). The
message names the argument, says what was expected and what was given, e.g.
``lr must be a finite number > 0, got -0.1``. Nothing here imports torch, numpy or matplotlib:
a value can only be a tensor or an array if its library is already imported.
"""

from __future__ import annotations

import functools
import math
import numbers
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "describe", "number", "integer", "boolean", "text", "one_of", "function", "seed",
    "sequence", "tensor", "array", "module", "float_dtype", "axes", "SEED_MAX", "named",
    "add_note", "unusual_tensor",
]

#: Largest seed accepted everywhere (NumPy's legacy ``np.random.seed`` stops at 2**32 - 1).
SEED_MAX = 2**32 - 1
_FLOAT_MAX = sys.float_info.max


def describe(x: object) -> str:
    """A short, safe description of ``x`` for an error message: "the string 'a'", "None"."""
    if x is None:
        return "None"
    if x is Ellipsis:
        return "... (not filled in yet)"
    if isinstance(x, bool):
        return f"{x} (a bool)"
    if isinstance(x, numbers.Integral) and not _is_tensor(x):
        x = int(x)
        if abs(x) > 10**15:
            return f"an int with about {int(x.bit_length() * 0.30103) + 1} digits"
        return repr(x)
    if isinstance(x, float):
        return repr(float(x))
    if isinstance(x, complex):
        return f"the complex number {x!r}"
    if isinstance(x, str):
        return f"the string {x[:40]!r}" + ("..." if len(x) > 40 else "")
    if _is_tensor(x):
        return f"a tensor of shape {tuple(x.shape)} and dtype {str(x.dtype).replace('torch.', '')}"
    np = sys.modules.get("numpy")
    if np is not None and isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    if np is not None and isinstance(x, np.generic):
        return f"{x!r} (a numpy {type(x).__name__})"
    if isinstance(x, (list, tuple, dict, set)):
        return f"a {type(x).__name__} of length {len(x)}"
    name = type(x).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _fail(kind: type[Exception], name: str, expected: str, x: object) -> Exception:
    return kind(f"{name} must be {expected}, got {describe(x)}")


def _is_tensor(x: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def unusual_tensor(x: object) -> str | None:
    """What makes ``x`` a tensor without ordinary values ("a sparse coo tensor", "a meta
    tensor"), or None for anything else (a dense tensor, or not a tensor at all)."""
    if not _is_tensor(x):
        return None
    layout = str(x.layout).replace("torch.", "")
    if layout != "strided":
        return f"a {layout.replace('_', ' ')} tensor"
    return "a meta tensor" if x.device.type == "meta" else None


def _dense(x: Any, name: str) -> None:
    """Raise unless the tensor ``x`` is an ordinary one: dense (not sparse) and holding data
    (not a meta tensor, which has a shape and no values)."""
    kind = unusual_tensor(x)
    if kind == "a meta tensor":
        raise ValueError(f"{name} must hold numbers, got a meta tensor of shape "
                         f"{tuple(x.shape)} (a shape without values); create it on the CPU")
    if kind:
        raise TypeError(f"{name} must be an ordinary (dense) tensor, got {kind} of "
                        f"shape {tuple(x.shape)}; convert it with {name}.to_dense()")


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def _in_range(x: float, low: float | None, high: float | None, low_open: bool,
              high_open: bool) -> bool:
    return not ((low is not None and (x < low or (low_open and x == low))) or
                (high is not None and (x > high or (high_open and x == high))))


def number(x: object, name: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """Return ``x`` as a finite float within the given bounds (an int or a float, not a bool)."""
    expected = "a finite number" + _bounds(low, high, low_open, high_open)
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or _is_tensor(x):
        raise _fail(TypeError, name, expected, x)
    if isinstance(x, numbers.Integral) and abs(int(x)) > _FLOAT_MAX:
        raise _fail(ValueError, name, expected, x)
    value = float(x)
    if not math.isfinite(value) or not _in_range(value, low, high, low_open, high_open):
        raise _fail(ValueError, name, expected, x)
    return value


def integer(x: object, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``x`` as an int within ``[low, high]`` (a whole number like ``3``, not ``3.0``)."""
    expected = "an int" + _bounds(low, high, False, False)
    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or _is_tensor(x):
        raise _fail(TypeError, name, expected, x)
    value = int(x)
    if not _in_range(value, low, high, False, False):
        raise _fail(ValueError, name, expected, x)
    return value


def boolean(x: object, name: str) -> bool:
    """Return ``x`` if it is ``True`` or ``False`` (numpy's bool too)."""
    np = sys.modules.get("numpy")
    if isinstance(x, bool) or (np is not None and isinstance(x, np.bool_)):
        return bool(x)
    raise _fail(TypeError, name, "True or False", x)


def text(x: object, name: str, *, optional: bool = False) -> str | None:
    """Return ``x`` if it is a str (or None when ``optional``)."""
    if isinstance(x, str) or (optional and x is None):
        return x
    raise _fail(TypeError, name, "a str" + (" or None" if optional else ""), x)


def one_of(x: object, name: str, options: Iterable[str],
           hints: Mapping[str, str] | None = None) -> str:
    """Return ``x`` if it is one of ``options``; ``hints`` add a sentence for known mistakes."""
    options = list(options)
    listed = ", ".join(repr(o) for o in options)
    if not isinstance(x, str):
        raise _fail(TypeError, name, f"one of {listed}", x)
    if x not in options:
        hint = (hints or {}).get(x)
        raise ValueError(f"{name} must be one of {listed}, got {x!r}" +
                         (f" ({hint})" if hint else ""))
    return x


def function(x: object, name: str,
             what: str = "a function (something callable)") -> Callable[..., Any]:
    """Return ``x`` if it can be called."""
    if not callable(x):
        raise _fail(TypeError, name, what, x)
    return x  # type: ignore[return-value]


def add_note(err: BaseException, name: str) -> None:
    """Add a note naming ``name`` to an error raised inside a function the user passed in."""
    note = f"(raised inside {name}, the function passed to mlpbook as {name!r})"
    if hasattr(err, "add_note") and note not in getattr(err, "__notes__", []):
        err.add_note(note)  # Python 3.11+: shown under the message, traceback intact


def named(fn: object, name: str) -> Callable[..., Any]:
    """Return ``fn`` (checked callable) wrapped so that an error it raises names ``name``.

    The error keeps its type and traceback: it is the user's function that failed.
    """
    fn = function(fn, name)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            add_note(err, name)
            raise

    return wrapper


def seed(x: object, name: str = "seed") -> int:
    """Return ``x`` as a seed: an int in ``[0, 2**32 - 1]``, accepted by random, NumPy and torch."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or _is_tensor(x):
        raise _fail(TypeError, name, "an int in [0, 2**32 - 1]", x)
    if not 0 <= int(x) <= SEED_MAX:
        raise _fail(ValueError, name, "an int in [0, 2**32 - 1]", x)
    return int(x)


def sequence(x: object, name: str, *, min_len: int = 0, what: str = "values") -> list:
    """Return ``x`` as a list if it is a list or tuple (not a str) of at least ``min_len`` items."""
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise _fail(TypeError, name, f"a list or tuple of {what}", x)
    if len(x) < min_len:
        least = "a non-empty list or tuple" if min_len == 1 else f"at least {min_len}"
        raise _fail(ValueError, name, f"{least} of {what}" if min_len == 1 else
                    f"a list or tuple of {least} {what}", x)
    return list(x)


def tensor(x: object, name: str, *, ndim: int | Sequence[int] | None = None,
           floating: bool = False, numeric: bool = True, finite: bool = True,
           nonempty: bool = True) -> Any:
    """Return ``x`` if it is a torch tensor of real numbers meeting the requirements.

    Args:
        ndim: required number of dimensions (or a tuple of allowed ones).
        floating: require a floating dtype (float16/32/64), not int or bool.
        numeric: reject bool and complex tensors.
        finite: reject NaN and infinity.
        nonempty: reject tensors with no elements.
    """
    import torch  # only called by modules that already use torch

    if not isinstance(x, torch.Tensor):
        raise _fail(TypeError, name, "a torch tensor", x)
    _dense(x, name)
    if x.is_complex() or (numeric and x.dtype == torch.bool):
        raise _fail(TypeError, name, "a tensor of real numbers", x)
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (e.g. float32), got dtype "
                        f"{str(x.dtype).replace('torch.', '')}; convert it with "
                        f"{name}.float()")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {want} dimension{'s' if allowed != (1,) else ''}"
                             f", got shape {tuple(x.shape)}")
    if nonempty and x.numel() == 0:
        raise _fail(ValueError, name, "a tensor with at least one element", x)
    if finite and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = (~torch.isfinite(x)).nonzero()[0].tolist()
        where = f" at index {tuple(bad)}" if bad else ""
        raise ValueError(f"{name} must hold only finite numbers, but it holds "
                         f"{x[tuple(bad)].item() if bad else x.item()}{where}")
    return x


def array(x: object, name: str, *, finite: bool = True, nonempty: bool = True) -> Any:
    """Return ``x`` (a tensor, array or nested list of numbers) as a float64 NumPy array."""
    import numpy as np  # only called by modules that already use numpy

    if _is_tensor(x):
        _dense(x, name)
        if x.is_complex():
            raise _fail(TypeError, name, "an array or tensor of real numbers", x)
        x = x.detach().cpu().double().numpy()
    if isinstance(x, (str, bytes)) or x is None or x is Ellipsis or callable(x):
        raise _fail(TypeError, name, "an array or tensor of numbers", x)
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as err:  # ragged nested lists
        raise _fail(ValueError, name, "a rectangular array of numbers (rows of equal length)",
                    x) from err
    if a.dtype == object:
        raise _fail(ValueError, name, "a rectangular array of numbers (rows of equal length)", x)
    if a.dtype.kind not in "biuf":
        raise _fail(TypeError, name, "an array or tensor of real numbers", x)
    a = a.astype(np.float64)
    if nonempty and a.size == 0:
        raise _fail(ValueError, name, "a non-empty array of numbers", x)
    if finite and not np.isfinite(a).all():
        raise ValueError(f"{name} must hold only finite numbers, but it holds "
                         f"{a[~np.isfinite(a)].ravel()[0]}")
    return a


def module(x: object, name: str = "model") -> Any:
    """Return ``x`` if it is a ``torch.nn.Module``."""
    from torch import nn

    if not isinstance(x, nn.Module):
        raise _fail(TypeError, name, "a torch.nn.Module (e.g. from make_mlp)", x)
    return x


def float_dtype(x: object, name: str = "dtype") -> Any:
    """Return ``x`` if it is a floating torch dtype such as ``torch.float64``."""
    import torch

    if not isinstance(x, torch.dtype) or not x.is_floating_point:
        raise TypeError(f"{name} must be a floating torch dtype such as torch.float32 or "
                        f"torch.float64, got {x!r}")
    return x


def axes(x: object, name: str = "ax") -> Any:
    """Return ``x`` if it is a matplotlib ``Axes`` or None."""
    if x is None:
        return None
    from matplotlib.axes import Axes

    if not isinstance(x, Axes):
        raise _fail(TypeError, name, "a matplotlib Axes or None", x)
    return x
