"""Tests for mlpbook.graph: tracing Value and torch graphs, and drawing them."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from mlpbook.engine import Value  # noqa: E402
from mlpbook.graph import Graph, Node, draw_graph, trace_tensor, trace_value  # noqa: E402


def small_expression():
    a, b, c, f = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c"), Value(-2.0, "f")
    e = a * b
    e.label = "e"
    d = (e + c).tanh()
    d.label = "d"
    L = d * f
    L.label = "L"
    L.backward()
    return L


def test_trace_value_nodes_and_edges():
    g = trace_value(small_expression())
    assert [(n.label, n.op) for n in g.nodes] == [
        ("a", ""), ("b", ""), ("e", "*"), ("c", ""), ("", "+"), ("d", "tanh"), ("f", ""), ("L", "*")]
    assert g.edges == [(0, 2), (1, 2), (2, 4), (3, 4), (4, 5), (5, 7), (6, 7)]
    assert [n.id for n in g.nodes] == list(range(8))
    torch.testing.assert_close(torch.tensor(g.nodes[0].grad), torch.tensor(-3.0 * -2.0 * (1 - torch.tanh(torch.tensor(4.0)) ** 2).item()))
    assert trace_value(small_expression()) == g  # deterministic


def test_trace_value_deduplicates_inputs():
    a = Value(1.0, "a")
    g = trace_value(a * a)
    assert len(g.nodes) == 2 and g.edges == [(0, 1)]


def test_trace_tensor_grad_fn_names():
    a = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    W = torch.ones(2, 3, dtype=torch.float64, requires_grad=True)
    L = ((a * W).sum() + a).tanh()
    L.backward()
    g = trace_tensor(L, names={"a": a, "W": W})
    names = [n.op or n.label for n in g.nodes]
    assert names == ["a", "W", "MulBackward0", "SumBackward0", "AddBackward0", "TanhBackward0"]
    assert g.nodes[1].value == "(2, 3)" and g.nodes[1].grad == "(2, 3)"
    assert isinstance(g.nodes[0].value, float)
    assert sorted(g.edges) == [(0, 2), (0, 4), (1, 2), (2, 3), (3, 4), (4, 5)]
    unnamed = trace_tensor(L)
    assert unnamed.nodes[0].label == "leaf"


def test_trace_bad_input():
    with pytest.raises(TypeError, match="root"):
        trace_value(3.0)
    with pytest.raises(TypeError, match="torch.Tensor"):
        trace_tensor(Value(1.0))
    with pytest.raises(ValueError, match="grad_fn"):
        trace_tensor(torch.tensor(1.0))
    a = torch.tensor(2.0, requires_grad=True)
    with pytest.raises(TypeError, match="names"):
        trace_tensor(a * a, names=[a])
    with pytest.raises(TypeError, match=r"names\['a'\]"):
        trace_tensor(a * a, names={"a": 2.0})


def test_draw_graph_returns_axes_without_show(monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("draw_graph called plt.show"))
    ax = draw_graph(trace_value(small_expression()), title="L")
    assert isinstance(ax, Axes)
    texts = [t.get_text() for t in ax.texts]
    assert any("data 2.0000" in t and "grad" in t for t in texts)
    assert ax.figure.patch.get_alpha() == 0.0
    plt.close(ax.figure)
    fig, ax2 = plt.subplots()
    assert draw_graph(trace_value(small_expression()), ax2, show_grad=False) is ax2
    assert not any("grad" in t.get_text() for t in ax2.texts)
    plt.close(fig)


def test_draw_graph_bad_input():
    with pytest.raises(TypeError, match="graph"):
        draw_graph([1, 2])
    cyclic = Graph([Node(0, "a", "", 1.0, None), Node(1, "b", "+", 1.0, None)], [(0, 1), (1, 0)])
    with pytest.raises(ValueError, match="cycle"):
        draw_graph(cyclic)
    with pytest.raises(ValueError, match="node id"):
        draw_graph(Graph([Node(0, "a", "", 1.0, None)], [(0, 5)]))
    g = trace_value(small_expression())
    for kwargs, exc, word in [(dict(ax="x"), TypeError, "ax"), (dict(title=3), TypeError, "title"),
                              (dict(show_grad="yes"), TypeError, "show_grad"),
                              (dict(fontsize=0), ValueError, "fontsize"),
                              (dict(max_nodes=1.5), TypeError, "max_nodes")]:
        with pytest.raises(exc, match=word):
            draw_graph(g, **kwargs)
    with pytest.raises(TypeError, match=r"graph.nodes\[0\]"):
        draw_graph(Graph(["not a node"], []))
    with pytest.raises(TypeError, match=r"graph.edges\[0\]"):
        draw_graph(Graph([Node(0, "a", "", 1.0, None)], [0]))
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(trace_value(sum((Value(1.0) for _ in range(10)), Value(0.0))), max_nodes=5)


def test_graph_figures_get_no_narrow_variant_but_are_marked_to_scroll_to_the_output() -> None:
    """A graph cannot get narrower (its boxes hold its text): on a phone the page scrolls it to
    its output instead (tools/sphinxext/figure_variants.py, book/_static/figures.js)."""
    from mlpbook import figvariants

    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    L = a * b
    L.label = "L"
    L.backward()
    ax = draw_graph(trace_value(L))
    _, meta = figvariants.figure_bundle(ax.figure)
    assert meta[figvariants.KEY].get("graph") is True
    assert "narrow" not in meta[figvariants.KEY]
    plt.close("all")
