"""An interactive backpropagation explorer for a ``Value`` graph, as self-contained HTML.

``explore(L)`` traces the graph with :func:`mlpbook.graph.trace_value` and returns an
``Explorer``. A notebook (the book's pages, Jupyter, Colab) displays it through
``_repr_html_``: the graph as JSON plus the package's ``explorer.js`` and ``explorer.css``,
inlined, so it runs with no kernel and no network. The reader sets the inputs and steps through
the backward pass one node at a time. The script implements each engine op's forward value and
local backward rule; the tests check it against :mod:`mlpbook.engine` to 1e-12.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

from mlpbook.engine import Value
from mlpbook.graph import _layout, trace_value

__all__ = ["Explorer", "explore"]

_instances = itertools.count(1)  # element ids unique on a page, the same in every build


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    """The text of ``explorer.js`` or ``explorer.css``, shipped as package data."""
    return files("mlpbook").joinpath(name).read_text(encoding="utf-8")


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
                f'<script>{_asset("explorer.js")}</script>\n')


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
    nodes = []
    for n in graph.nodes:
        leaf = n.id not in made
        name = n.label or (f"{n.value:g}" if leaf else f"v{n.id}")
        nodes.append({"id": n.id, "name": name, "op": n.op, "value": n.value,
                      "input": leaf and bool(n.label), "x": int(pos[n.id][0]), "y": pos[n.id][1]})
    spec = {"nodes": nodes, "edges": [list(e) for e in graph.edges], "root": len(nodes) - 1,
            "limits": [float(limits[0]), float(limits[1])], "step": float(step), "h": float(h)}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
    return Explorer(spec, f"mlpx-{digest}-{next(_instances)}")
