"""An interactive backpropagation explorer for a ``Value`` graph, as self-contained HTML.

``explore(L)`` traces the graph with :func:`mlpbook.graph.trace_value` and returns an
``Explorer``. A notebook (the book's pages, Jupyter, Colab) displays it through
``_repr_html_``: the graph as JSON plus the package's script and ``explorer.css``, inlined, so
it runs with no kernel and no network. The reader sets the inputs and steps through the backward
pass one node at a time.

The script is four files, one concept each, concatenated in this order into one function
(:func:`script`): ``explorer-rules.js`` (formatting, each op's JavaScript rule),
``explorer-core.js``
(forward, backward, finite differences), ``explorer-draw.js`` (the SVG) and ``explorer-widget.js``
(inputs, buttons, status). An op with a JavaScript rule is recomputed exactly as the engine does
(the tests compare to 1e-12). An op without one (any op of :mod:`mlpbook.ops` added since) is
shown from the engine's own numbers: each of its nodes carries the local derivatives the engine
computed (``local``), and a unary op comes with a table of its values and derivatives computed by
the engine (``tables``), in which the script interpolates when the reader moves a slider.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

from mlpbook import ops
from mlpbook.engine import Value, topological_sort
from mlpbook.graph import _layout, trace_value

__all__ = ["Explorer", "explore", "script", "js_rules"]

#: The script's files, in the order they are concatenated.
SCRIPT_PARTS = ("explorer-rules.js", "explorer-core.js", "explorer-draw.js", "explorer-widget.js")
TABLE_STEP = 0.05  #: grid step of a generic op's table (Hermite interpolation: error ~1e-8)

_instances = itertools.count(1)  # element ids unique on a page, the same in every build


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    """The text of one of the explorer's files (script parts, style), shipped as package data."""
    return files("mlpbook").joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def script() -> str:
    """The explorer's whole script: its parts in one function, run once per page (a second copy
    only mounts the explorers it finds)."""
    parts = "\n".join(_asset(name) for name in SCRIPT_PARTS)
    return ('(function () {\n"use strict";\n'
            "if (window.mlpbookExplorer) { window.mlpbookExplorer.mountAll(); return; }\n"
            f"{parts}}})();\n")


@lru_cache(maxsize=None)
def js_rules() -> frozenset[str]:
    """The ops that have a rule in ``explorer-rules.js`` (its ``RULES["..."] =`` lines)."""
    return frozenset(re.findall(r'^RULES\["([^"]+)"\] =', _asset("explorer-rules.js"), re.M))


@dataclass(frozen=True)
class Explorer:
    """A traced graph ready to display; ``spec`` is what the script receives."""

    spec: dict[str, Any]
    element_id: str

    def __repr__(self) -> str:
        root = self.spec["nodes"][self.spec["root"]]["name"]
        inputs = ", ".join(n["name"] for n in self.spec["nodes"] if n["input"])
        return (f"Explorer({root}: {len(self.spec['nodes'])} nodes, inputs {inputs}; "
                "display it in a notebook)")

    def _repr_html_(self) -> str:
        """The explorer as HTML: data, style and script inline, no external URL."""
        data = json.dumps(self.spec, separators=(",", ":"), allow_nan=False)
        data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return (f'<style>{_asset("explorer.css")}</style>\n'
                f'<div class="mlpx" id="{self.element_id}">'
                f'<script type="application/json" class="mlpx-spec">{data}</script>'
                '<p class="mlpx-nojs">The interactive backpropagation explorer needs JavaScript '
                "(in Jupyter: trust the notebook, or run the cell again).</p></div>\n"
                f'<script>{script()}</script>\n')


def explore(root: Value, *, limits: tuple[float, float] = (-5.0, 5.0), step: float = 0.05,
            h: float | None = None, max_nodes: int = 40) -> Explorer:
    """Return an explorer of the graph behind ``root``, displayed as HTML in a notebook.

    Leaves with a label are the inputs (a slider over ``limits`` with ``step``, and a number
    field); unlabelled leaves are constants. ``h`` is the finite-difference step (default:
    that of :func:`mlpbook.gradcheck.central_difference`).
    """
    if not isinstance(root, Value):
        raise TypeError(f"root must be a mlpbook.engine.Value, got {type(root).__name__}")
    if (not isinstance(limits, (tuple, list)) or len(limits) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                       and math.isfinite(x) for x in limits) or not limits[0] < limits[1]):
        raise ValueError(f"limits must be two finite numbers (low, high) with low < high, "
                         f"got {limits!r}")
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step < math.inf:
        raise ValueError(f"step must be a positive number, got {step!r}")
    if h is None:
        from mlpbook.gradcheck import central_difference

        h = inspect.signature(central_difference).parameters["h"].default
    if isinstance(h, bool) or not isinstance(h, (int, float)) or not 0 < h < math.inf:
        raise ValueError(f"h must be a positive number, got {h!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive int, got {max_nodes!r}")
    graph = trace_value(root)
    if len(graph.nodes) > max_nodes:
        raise ValueError(f"the graph has {len(graph.nodes)} nodes; the explorer shows at most "
                         f"max_nodes={max_nodes} (a bigger graph is unreadable)")
    pos = _layout(graph)
    made = {b for _, b in graph.edges}
    values = topological_sort(root)  # the same order as graph.nodes (trace_value's)
    nodes, tables = [], {}
    for n, v in zip(graph.nodes, values):
        leaf = n.id not in made
        name = n.label or (f"{n.value:g}" if leaf else f"v{n.id}")
        node = {"id": n.id, "name": name, "op": n.op, "value": n.value,
                "input": leaf and bool(n.label), "x": int(pos[n.id][0]), "y": pos[n.id][1]}
        if not leaf and _key(n.op) not in js_rules():  # shown from the engine's own numbers
            node["local"] = ops.local_derivatives(v)
            if len(v.prev) == 1 and n.op not in tables:
                tables[n.op] = _table(n.op, limits)
        nodes.append(node)
    spec = {"nodes": nodes, "edges": [list(e) for e in graph.edges], "root": len(nodes) - 1,
            "limits": [float(limits[0]), float(limits[1])], "step": float(step), "h": float(h)}
    if tables:
        spec["tables"] = tables
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
    return Explorer(spec, f"mlpx-{digest}-{next(_instances)}")


def _key(op: str) -> str:
    return "**" if op.startswith("**") else op


def _table(symbol: str, limits: tuple[float, float]) -> dict[str, Any]:
    """A unary op's values, first and second derivatives on an even grid, all computed by the
    engine (the second by a central difference of its local derivative), over three times the
    sliders' range (at least -10 to 10); ``None`` where the op rejects the input."""
    method = ops.by_symbol(symbol).method
    reach = max(10.0, 3 * max(abs(float(x)) for x in limits))
    n = min(int(round(2 * reach / TABLE_STEP)), 4000)
    step = 2 * reach / n

    def local(x: float) -> tuple[float, float] | None:
        v = Value(x)
        try:
            out = getattr(v, method)()
        except (ValueError, ZeroDivisionError):
            return None
        return out.data, ops.local_derivatives(out)[0]

    f, d, d2 = [], [], []
    for i in range(n + 1):
        x, eps = -reach + i * step, 1e-5
        here, up, down = local(x), local(x + eps), local(x - eps)
        ok = here is not None and up is not None and down is not None
        f.append(_round(here[0]) if ok else None)
        d.append(_round(here[1]) if ok else None)
        d2.append(_round((up[1] - down[1]) / (2 * eps)) if ok else None)
    return {"lo": -reach, "step": step, "f": f, "d": d, "d2": d2}


def _round(x: float) -> float:
    """12 significant digits: far below the interpolation's error, a third fewer bytes."""
    return float(f"{x:.12g}")
