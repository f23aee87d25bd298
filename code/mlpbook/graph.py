"""Computational graphs: trace a ``Value`` or a torch tensor into a ``Graph`` and draw it.

``trace_value`` and ``trace_tensor`` turn both engines' graphs into the same small data
structure, so one ``draw_graph`` shows either, left (inputs) to right (output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Union

from mlpbook import validation
from mlpbook.engine import Value, topological_sort

if TYPE_CHECKING:
    import torch
    from matplotlib.axes import Axes

__all__ = ["Node", "Graph", "trace_value", "trace_tensor", "draw_graph"]

_FALLBACK_PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9"]
_GREY = "#555555"  # arrows and title: mlpbook.plot.GREY (its dark-theme variant recolours it)


@dataclass(frozen=True)
class Node:
    """One node of a traced graph: a value (leaf or result of ``op``) with its gradient."""

    id: int
    label: str
    op: str
    value: Union[float, str, None]  # a float for scalars, a shape string like "(3, 2)" otherwise
    grad: Union[float, str, None]


@dataclass
class Graph:
    """A traced computational graph: nodes (inputs before outputs) and input -> output edges."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)


def trace_value(root: Value) -> Graph:
    """Return the graph of every ``Value`` that ``root`` depends on, in topological order."""
    order = topological_sort(root)  # raises TypeError if root is not a Value
    ids = {id(v): i for i, v in enumerate(order)}
    nodes = [Node(i, v.label, v.op, v.data, v.grad) for i, v in enumerate(order)]
    edges = [(ids[id(p)], ids[id(v)]) for v in order for p in v.prev]
    return Graph(nodes, edges)


def trace_tensor(t: torch.Tensor, names: Mapping[str, torch.Tensor] | None = None) -> Graph:
    """Return the autograd graph behind tensor ``t`` by walking ``t.grad_fn.next_functions``.

    Leaf tensors (torch's ``AccumulateGrad`` nodes) show their value and grad (a float for a
    one-element tensor, else the shape); other nodes are labelled with the grad_fn class name,
    e.g. ``"MulBackward0"``. ``names`` optionally maps labels to leaf tensors, e.g.
    ``{"a": a, "b": b}``.
    """
    import torch

    if not isinstance(t, torch.Tensor):
        raise TypeError(f"t must be a torch.Tensor, got {type(t).__name__}")
    if t.grad_fn is None:
        raise ValueError("t has no grad_fn: it is a leaf or was computed without requires_grad")
    if names is not None and not isinstance(names, Mapping):
        raise TypeError(f"names must be a dict mapping labels to leaf tensors, e.g. "
                        f"{{'a': a, 'b': b}}, got {validation.describe(names)}")
    for k, v in (names or {}).items():
        validation.text(k, "each key of names")
        validation.tensor(v, f"names[{k!r}]", finite=False, nonempty=False, numeric=False)
    leaf_names = {id(v): k for k, v in (names or {}).items()}
    order, seen, stack = [], {}, [(t.grad_fn, False)]
    while stack:  # iterative post-order DFS, as in engine.topological_sort
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
        elif id(fn) not in seen:
            seen[id(fn)] = fn  # keeps fn alive so its id stays unique
            stack.append((fn, True))
            inputs = [g for g, _ in fn.next_functions if g is not None]
            stack.extend((g, False) for g in reversed(inputs))
    ids = {id(fn): i for i, fn in enumerate(order)}
    nodes = []
    for i, fn in enumerate(order):
        name = type(fn).__name__
        if hasattr(fn, "variable"):  # AccumulateGrad: a leaf tensor
            v = fn.variable
            label = leaf_names.get(id(v), "leaf")
            nodes.append(Node(i, label, "", _summary(v.detach()), _summary(v.grad)))
        else:
            nodes.append(Node(i, name, name, None, None))
    edges = [(ids[id(g)], ids[id(fn)]) for fn in order
             for g, _ in fn.next_functions if g is not None]
    return Graph(nodes, edges)


def _check_graph(graph: Graph) -> None:
    """Raise unless ``graph`` holds a list of ``Node`` and a list of (int, int) edges."""
    nodes = validation.sequence(graph.nodes, "graph.nodes", what="Nodes")
    for k, n in enumerate(nodes):
        if not isinstance(n, Node):
            raise TypeError(f"graph.nodes[{k}] must be a Node, got {validation.describe(n)}")
        validation.text(n.label, f"graph.nodes[{k}].label")
        validation.text(n.op, f"graph.nodes[{k}].op")
        for field_name in ("value", "grad"):
            v = getattr(n, field_name)
            if isinstance(v, bool) or not isinstance(v, (int, float, str, type(None))):
                raise TypeError(f"graph.nodes[{k}].{field_name} must be a number, a str or "
                                f"None, got {validation.describe(v)}")
    if len({n.id for n in nodes}) != len(nodes):
        raise ValueError("graph.nodes must have distinct ids")
    for k, e in enumerate(validation.sequence(graph.edges, "graph.edges", what="(int, int)")):
        if not (isinstance(e, (tuple, list)) and len(e) == 2):
            raise TypeError(f"graph.edges[{k}] must be a pair (from id, to id), got "
                            f"{validation.describe(e)}")


def _summary(x: Any) -> Union[float, str, None]:
    """Return a tensor as a float if it has one element, else its shape as a string."""
    if x is None:
        return None
    return float(x.item()) if x.numel() == 1 else str(tuple(x.shape))


def _layout(graph: Graph) -> dict[int, tuple[float, float]]:
    """Return (column, row) per node id: columns by topological depth, rows top to bottom."""
    index = {n.id: k for k, n in enumerate(graph.nodes)}
    inputs: dict[int, list[int]] = {n.id: [] for n in graph.nodes}
    users: dict[int, list[int]] = {n.id: [] for n in graph.nodes}
    for a, b in graph.edges:
        if a not in index or b not in index:
            raise ValueError(f"edge {(a, b)} refers to a node id that is not in graph.nodes")
        inputs[b].append(a)
        users[a].append(b)
    depth: dict[int, int] = {}
    pending = [n.id for n in graph.nodes]
    while pending:  # longest path from an input: place a node once all its inputs are placed
        ready = [i for i in pending if all(a in depth for a in inputs[i])]
        if not ready:
            raise ValueError("graph has a cycle; a computational graph must be acyclic")
        for i in ready:
            depth[i] = 1 + max((depth[a] for a in inputs[i]), default=-1)
        pending = [i for i in pending if i not in depth]
    for i in depth:  # a leaf sits just left of its first user, not far away in column 0
        if not inputs[i] and users[i]:
            depth[i] = min(depth[u] for u in users[i]) - 1
    pos: dict[int, tuple[float, float]] = {}
    for d in sorted(set(depth.values()), reverse=True):  # right to left, from the output
        column = [n.id for n in graph.nodes if depth[n.id] == d]
        # order by the mean height of the node's users (fewer crossings), then by trace order
        column.sort(key=lambda i: (-sum(pos[u][1] for u in users[i]) / max(len(users[i]), 1),
                                   index[i]))
        for r, i in enumerate(column):
            pos[i] = (float(d - min(depth.values())), (len(column) - 1) / 2 - r)  # row 0 on top
    return pos


def _fmt(x: Union[float, str]) -> str:
    """Format a number compactly (4 decimals, scientific if tiny or huge)."""
    if isinstance(x, str):
        return x
    return f"{x:.4f}" if x == 0 or 1e-3 <= abs(x) < 1e4 else f"{x:.2e}"


def _tint(colour: str, amount: float = 0.78) -> tuple[float, float, float]:
    """Return ``colour`` mixed with white: a light fill on which black text reads well."""
    from matplotlib.colors import to_rgb

    return tuple(c + (1 - c) * amount for c in to_rgb(colour))  # type: ignore[return-value]


def draw_graph(graph: Graph, ax: Axes | None = None, *, title: str | None = None,
               show_grad: bool = True, fontsize: float = 12, max_nodes: int = 300) -> Axes:
    """Draw ``graph`` left to right (inputs to output), one box per node, and return the Axes.

    Each box shows the node's label and op, ``data`` and (if ``show_grad``) ``grad``. Leaves,
    operations and the output get different colours; text is black on light fills and the
    background is transparent, so the figure reads on light and dark pages. Boxes and spacing are
    sized in units of ``fontsize`` (points), so the figure is as wide as its text needs; given an
    ``ax``, the drawing fills it and the text scales with it.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if not isinstance(graph, Graph):
        raise TypeError("graph must be a Graph (from trace_value or trace_tensor), "
                        f"got {validation.describe(graph)}")
    _check_graph(graph)
    validation.axes(ax)
    validation.text(title, "title", optional=True)
    validation.boolean(show_grad, "show_grad")
    validation.number(fontsize, "fontsize", low=1.0, high=100.0)
    max_nodes = validation.integer(max_nodes, "max_nodes", low=1)
    if len(graph.nodes) > max_nodes:
        raise ValueError(f"graph has {len(graph.nodes)} nodes; draw_graph draws at most "
                         f"max_nodes={max_nodes} (a bigger drawing is unreadable)")
    try:
        from mlpbook.plot import PALETTE as palette
    except ImportError:
        palette = _FALLBACK_PALETTE
    pos = _layout(graph)
    texts = {n.id: _box_text(n, show_grad) for n in graph.nodes}
    # Sizes in units of the font size (em), so that the boxes fit their text at any fontsize and
    # the drawing is no wider than the text needs: a 5-column graph is about 47 em wide, so a page
    # that scales it to its column still shows the text at >= 0.8x the body text.
    chars = max((len(line) for t in texts.values() for line in t.split("\n")), default=1)
    lines = max((t.count("\n") + 1 for t in texts.values()), default=1)
    em = fontsize / 72  # inches
    w = (0.6 * chars + 1.0) * em  # monospace glyphs are 0.6 em wide
    h = (1.35 * lines + 0.9) * em
    dx, dy = w + 1.6 * em, h + 0.8 * em  # column and row pitch: room for the arrows
    n_cols = 1 + int(max((x for x, _ in pos.values()), default=0))
    ys = [y * dy for _, y in pos.values()] or [0.0]
    width = (n_cols - 1) * dx + w + 0.2 * em
    height = max(ys) - min(ys) + h + 0.2 * em
    if ax is None:
        fig, ax = plt.subplots(figsize=(width, height + (2.2 * em if title else 0.0)))
        fig.subplots_adjust(0, 0, 1, (height / (height + 2.2 * em)) if title else 1)
        fig.patch.set_alpha(0.0)
    else:
        # The drawing fills the given Axes (equal aspect): scale the text with it, so that it
        # stays inside its boxes however large or small the Axes is.
        box = ax.get_position()
        fig_w, fig_h = ax.figure.get_size_inches()
        fontsize *= min(box.width * fig_w / width, box.height * fig_h / height)
    ax.patch.set_alpha(0.0)
    ax._mlpbook_graph = True  # mlpbook.figvariants: on a phone it scrolls to the output instead
    sinks = {n.id for n in graph.nodes} - {a for a, _ in graph.edges}
    made = {b for _, b in graph.edges}  # nodes computed from inputs
    for n in graph.nodes:
        x, y = pos[n.id][0] * dx, pos[n.id][1] * dy
        colour = palette[2] if n.id in sinks else palette[1] if n.id in made else palette[0]
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                    boxstyle=f"round,pad=0,rounding_size={0.5 * em}",
                                    facecolor=_tint(colour), edgecolor=colour, linewidth=1.5,
                                    zorder=2))
        ax.text(x, y, texts[n.id], ha="center", va="center", color="black",
                fontsize=fontsize, family="monospace", linespacing=1.35, zorder=3)
    for a, b in graph.edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        ax.add_patch(FancyArrowPatch((xa * dx + w / 2, ya * dy), (xb * dx - w / 2, yb * dy),
                                     arrowstyle="-|>", mutation_scale=12, color=_GREY,
                                     linewidth=1.2, shrinkA=1, shrinkB=1, zorder=1,
                                     connectionstyle=f"arc3,rad={-0.25 if xb - xa > 1 else 0}"))
    ax.set_xlim(-w / 2 - 0.1 * em, (n_cols - 1) * dx + w / 2 + 0.1 * em)
    ax.set_ylim(min(ys) - h / 2 - 0.1 * em, max(ys) + h / 2 + 0.1 * em)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, color=_GREY)
    return ax


def _box_text(n: Node, show_grad: bool) -> str:
    """Return the lines shown in a node's box: label and op, data, grad."""
    head = n.label if not n.op or n.op == n.label else f"{n.label} ({n.op})" if n.label else n.op
    lines = [head or "const"]
    if n.value is not None:
        lines.append(f"data {_fmt(n.value)}")
    if show_grad and n.grad is not None:
        lines.append(f"grad {_fmt(n.grad)}")
    return "\n".join(lines)
