"""The grader's watch over the library: what a notebook changed, put back, or tampering.

``Snapshot`` records the identity of every attribute of the modules and classes the checks
rely on (a function's code and defaults, keyword defaults by content), so that what a notebook
changed can be listed and put back (``undo``): ``Value.tanh = tanh`` is no crime, the checks then
run on the pristine library. A change to the checks themselves or to the grader
(``PROTECTED``), or one that cannot be put back, is tampering.
"""

from __future__ import annotations

import contextlib
import sys
import types
import warnings

BUILTIN_NAMES = frozenset(vars(sys.modules["builtins"]))


def code_key(code: types.CodeType) -> tuple:
    """What a function computes, without line numbers: equal for the same source."""
    consts = tuple(code_key(c) if isinstance(c, types.CodeType) else repr(c)
                   for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames)


class Change:
    """One watched attribute that differs from the snapshot: ``owner.key`` and how."""

    __slots__ = ("owner", "key", "how")

    def __init__(self, owner: str, key: str | None, how: str) -> None:
        self.owner, self.key, self.how = owner, key, how

    def __str__(self) -> str:
        if self.key is None:
            return f"sys.modules[{self.owner!r}] was {self.how}"
        return f"{self.owner}.{self.key} was {self.how}"


PLAIN_VALUES = frozenset({str, bytes, int, float, bool, type(None)})

# Changes here target the self-checks or the grader itself (the checks' own namespace and
# classes, the grader's module, the network guard): never undone, always a zero.
PROTECTED = ("mlpbook.checks", "__main__", "socket", "grade_run", "grade_snapshot")


def is_protected(module: object) -> bool:
    """Whether a module name is one of ``PROTECTED`` or inside one (``mlpbook.checks.core``)."""
    return isinstance(module, str) and (module in PROTECTED or
                                        module.startswith(tuple(p + "." for p in PROTECTED)))


class Snapshot:
    """The identity of every attribute of the modules and classes the checks rely on, and the
    originals, so that what a notebook changed can be put back (``restore``)."""

    def __init__(self, modules: list[str], classes: list[type]) -> None:
        self.functions: dict[int, tuple] = {}  # id -> (function, key, code, defaults, kw, items)
        self.modules = {name: (sys.modules[name], *self._state(vars(sys.modules[name])))
                        for name in modules if name in sys.modules}
        # and what each class inherits: `torch.Tensor.max = ...` shadows TensorBase.max
        self.classes = {f"{c.__module__}.{c.__qualname__}": (c, *self._state(vars(c)),
                                                             frozenset(dir(c)))
                        for c in classes}

    @staticmethod
    def _key(value: object) -> tuple:
        if type(value) in PLAIN_VALUES:  # an equal string or number is the same (a reload)
            return (type(value), value)
        if isinstance(value, types.FunctionType):
            # __kwdefaults__ is a dict: changed in place (a check's atol), its id stays
            kwdefaults = value.__kwdefaults__
            return (id(value), id(value.__code__), id(value.__defaults__), id(kwdefaults),
                    tuple((k, id(v)) for k, v in kwdefaults.items()) if kwdefaults else ())
        return (id(value),)

    def _state(self, namespace) -> tuple[dict[str, tuple], dict[str, object]]:
        values = dict(namespace)
        for v in values.values():
            if isinstance(v, types.FunctionType) and id(v) not in self.functions:
                kw = v.__kwdefaults__
                self.functions[id(v)] = (v, self._key(v), v.__code__, v.__defaults__, kw,
                                         dict(kw) if kw else None)
        return {k: self._key(v) for k, v in values.items()}, values

    def changes_quietly(self) -> list[Change]:
        """``changes()``, without the warnings that reading deprecated attributes gives."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.changes()

    def changes(self) -> list[Change]:
        """What changed since the snapshot (empty when nothing did)."""
        found = []
        for name, (module, state, _) in self.modules.items():
            # IPython replaces sys.modules["__main__"] when it starts (myst_nb.glue starts it);
            # this module's own namespace, still checked below, is what the grader runs in.
            if sys.modules.get(name) is not module and name != "__main__":
                found.append(Change(name, None, "replaced"))
            found += self._diff(name, dict(vars(module)), state, added=BUILTIN_NAMES)
        for name, (cls, state, _, inherited) in self.classes.items():
            found += self._diff(name, dict(vars(cls)), state, added=inherited, dunders=True)
        return found

    def _diff(self, owner: str, now: dict, state: dict, added: frozenset[str],
              dunders: bool = False) -> list[Change]:
        found = [Change(owner, k, "deleted" if k not in now else "replaced")
                 for k, key in state.items() if k not in now or self._key(now[k]) != key]
        for k in now.keys() - state.keys():
            if k in added or (dunders and k.startswith("__") and k.endswith("__")):
                found.append(Change(owner, k, "added"))
        return found

    def protected(self, change: Change) -> bool:
        """Whether a change targets the self-checks or the grader (see ``PROTECTED``): their
        module or classes, or a function of theirs that another namespace also holds."""
        if is_protected(change.owner):
            return True
        entry = self.modules.get(change.owner) or self.classes.get(change.owner)
        original = entry[2].get(change.key) if entry and change.key is not None else None
        return is_protected(getattr(original, "__module__", None))

    def restore(self) -> list[Change]:
        """Put every changed attribute back as it was; return the changes that remain."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for fn, key, code, defaults, kw, items in self.functions.values():
                if self._key(fn) == key:
                    continue
                with contextlib.suppress(Exception):
                    fn.__code__, fn.__defaults__ = code, defaults
                    if kw is not None:
                        kw.clear()
                        kw.update(items)
                    fn.__kwdefaults__ = kw
            for change in self.changes():
                with contextlib.suppress(Exception):
                    self._put_back(change)
        return self.changes_quietly()

    def _put_back(self, change: Change) -> None:
        if change.owner in self.modules:
            module, _, values = self.modules[change.owner]
            if change.key is None:
                sys.modules[change.owner] = module
            elif change.how == "added":
                del vars(module)[change.key]
            else:
                vars(module)[change.key] = values[change.key]
        else:
            cls, _, values, _ = self.classes[change.owner]
            if change.how == "added":
                type.__delattr__(cls, change.key)
            else:
                type.__setattr__(cls, change.key, values[change.key])


def settings_resetter(torch, numpy):
    """A function that puts back the global settings the checks run with (bound now, before
    the notebook can replace the functions it calls). ``torch.set_default_dtype`` also rebinds
    ``torch.Storage``: a notebook that works in float64 changed no library code."""
    set_dtype, set_grad, seterr, float32 = (torch.set_default_dtype, torch.set_grad_enabled,
                                            numpy.seterr, torch.float32)

    def reset() -> None:
        set_dtype(float32)
        set_grad(True)
        seterr(all="warn")

    return reset


def undo(snapshot: Snapshot) -> tuple[list[str], list[str], str | None]:
    """What the notebook changed in the watched modules and classes: ``(restored, tampered,
    why)``. Changes are put back, so that the checks run on the pristine library, unless one
    targets the checks or the grader (``PROTECTED``: then nothing is put back, ``why`` is
    "checks") or some cannot be put back (``why`` is "irreversible")."""
    changes = snapshot.changes_quietly()
    if not changes:
        return [], [], None
    fatal = [c for c in changes if snapshot.protected(c)]
    if fatal:
        return [], [str(c) for c in fatal + [c for c in changes if c not in fatal]], "checks"
    left = snapshot.restore()
    if left:
        return [], [str(c) for c in left], "irreversible"
    return [str(c) for c in changes], [], None
