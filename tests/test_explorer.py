"""The backprop explorer (``mlpbook.explorer.explore``, its script), from the reader's side.

- Its arithmetic: the script (``explorer-*.js``, concatenated by ``mlpbook.explorer.script``)
  runs in Chromium on seeded inputs, for the page's graph L = tanh(a·b + c)·f and for a graph
  around every op of the op registry (``mlpbook.ops``), and every value, gradient and finite
  difference is compared with the engine (values and gradients to 1e-12 relative to max(1, |x|)
  for an op with a JavaScript rule, 1e-6 for one drawn from the engine's table; finite
  differences to 1e-8).
- Its output: self-contained (no URL of any kind), escaped, deterministic, under 30 KB of script.
- The widget on the built page, as a reader uses it: inputs set by typing and by the slider's
  arrow keys, the backward pass stepped node by node (order, highlight, rule, gradient), a whole
  pass with the keyboard alone, finite differences, no console error, axe clean in light and dark
  at desktop, 390 px and 360 px, nothing wider than the screen, readable text; without JavaScript
  the page's static figures remain. Screenshots: ``_build/screenshots/explorer-*.png``.
- In the simulated Colab (``tests/test_colab.py``'s, reused by import): ``explore`` installed by
  the notebooks' setup cell displays, and its HTML runs in Chromium with no request.

Reused from ``tests/browsing.py`` by import: the ``site`` fixture (the built site served on
127.0.0.1), the session's one Chromium (``browser``) and axe-core.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import multiprocessing
import random
import re
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ROOT, SITE_ROOT
from browsing import axe_script, browser  # noqa: F401 (browser: the session's Chromium)
from browsing import site  # noqa: F401 (the built site on 127.0.0.1: a fixture)
from test_browser import SERIOUS

from mlpbook import engine, ops
from mlpbook.engine import Value
from mlpbook.explorer import SCRIPT_PARTS, explore, js_rules, script
from mlpbook.gradcheck import central_difference
from mlpbook.graph import trace_value

PARTS = [ROOT / "code" / "mlpbook" / name for name in SCRIPT_PARTS]
MAX_SCRIPT_BYTES = 30 * 1024  # issue 20: at most 30 KB of script
TOL = 1e-12  # values and gradients: |js - engine| <= TOL * max(1, |engine|)
GENERIC_TOL = 1e-6  # an op without a JavaScript rule, interpolated in the engine's table
FD_TOL = 1e-8  # finite differences (h = 1e-6): JS and Python round f differently by ~1e-16
PAGE = "book/backprop"
SCREENSHOTS = SITE_ROOT / "_build" / "screenshots"
WIDTHS = {"desktop": (1280, 900), "390": (390, 844), "360": (360, 740)}


# --- the engine, as the reference --------------------------------------------------------

def engine_ops() -> dict[str, str]:
    """Every core op of ``Value``, read from the engine's source: each method whose body builds
    a ``Value(..., _op=...)``. Returns {op: method name}, every power op as ``"**"``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(engine.Value)))
    ops = {}
    for fn in tree.body[0].body:
        if not isinstance(fn, ast.FunctionDef) or not any(
                isinstance(n, ast.keyword) and n.arg == "_op" for n in ast.walk(fn)):
            continue
        method = getattr(Value, fn.name)
        extra = list(inspect.signature(method).parameters.values())[1:]
        args = [Value(0.4) if "Value" in str(p.annotation) else 3.0 for p in extra]
        ops[op_key(method(Value(1.3), *args).op)] = fn.name
    return ops


def op_key(op: str) -> str:
    return "**" if op.startswith("**") else op


def apply(op: str, ins: list[Value]) -> Value:
    """Apply an engine op, named as the trace names it, to its (de-duplicated) inputs."""
    x, y = ins[0], ins[-1]  # x * x is traced with the one input x
    if op == "+":
        return x + y
    if op == "*":
        return x * y
    if op.startswith("**"):
        return x ** float(op[2:])
    if op == "neg":
        return -x
    return getattr(x, op)()


def engine_graph(spec: dict, x: list[float]) -> list[Value]:
    """The explorer's graph rebuilt with the engine from new leaf values ``x``, after
    ``backward()``; one Value per node, in the spec's order."""
    nodes: list[Value] = []
    for node in spec["nodes"]:
        ins = [nodes[a] for a, b in spec["edges"] if b == node["id"]]
        v = apply(node["op"], ins) if ins else Value(x[node["id"]])
        v.label = node["name"] if node["input"] or ins else ""
        nodes.append(v)
    root = nodes[spec["root"]]
    assert [(n.op, n.value) for n in trace_value(root).nodes] == [(v.op, v.data) for v in nodes]
    root.backward()
    return nodes


def close(js: float, py: float, tol: float = TOL) -> bool:
    return abs(js - py) <= tol * max(1.0, abs(py))


def page_graph(a=2.0, b=-1.5, c=3.5, f=-2.0) -> Value:
    """L = tanh(a·b + c)·f, labelled as on the backprop page."""
    a, b, c, f = (Value(v, label=n) for n, v in zip("abcf", (a, b, c, f)))
    e = a * b; e.label = "e"
    d = e + c; d.label = "d"
    t = d.tanh(); t.label = "t"
    L = t * f; L.label = "L"
    return L


def fd_reference(spec: dict, x: list[float], leaf: int) -> float:
    def f(v: float) -> float:
        moved = list(x)
        moved[leaf] = v
        return engine_graph(spec, moved)[spec["root"]].data
    return central_difference(f, x[leaf], spec["h"])


@pytest.fixture(scope="module")
def blank(browser):
    """A blank page with the explorer's script loaded (nothing mounted)."""
    page = browser.new_page()
    errors = watch(page)
    page.set_content("<!doctype html><html><body></body></html>")
    page.add_script_tag(content=script())
    yield page
    page.close()
    assert not errors, errors


def watch(page) -> list[str]:
    """Console errors and uncaught exceptions of ``page``, as they happen."""
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    return errors


def run_script(page, spec: dict, xs: list[list[float]]) -> list[dict]:
    return page.evaluate("([spec, xs]) => xs.map(x => mlpbookExplorer.compute(spec, x))", [spec, xs])


def check_against_engine(page, root: Value, trials: list[list[float]], tol: float = TOL) -> int:
    """Run the script on ``root``'s graph with each trial's leaf values; compare every value
    and gradient (to ``tol``) and finite difference with the engine. Returns the number of
    comparisons."""
    spec = explore(root).spec
    results = run_script(page, spec, trials)
    bad, n = [], 0
    for x, got in zip(trials, results):
        ref = engine_graph(spec, x)
        assert got["order"] == list(range(len(ref)))[::-1]
        for i, v in enumerate(ref):
            name = spec["nodes"][i]["name"]
            n += 2
            if not close(got["values"][i], v.data, tol):
                bad.append(f"x={x}: value of {name}: script {got['values'][i]!r}, engine {v.data!r}")
            if not close(got["grads"][i], v.grad, tol):
                bad.append(f"x={x}: grad of {name}: script {got['grads'][i]!r}, engine {v.grad!r}")
            if spec["nodes"][i]["op"] == "":  # a leaf: its finite difference too
                n += 1
                ref_fd = fd_reference(spec, x, i)
                if not close(got["fd"][i], ref_fd, FD_TOL if tol == TOL else 1e-5):
                    bad.append(f"x={x}: f.d. of {name}: script {got['fd'][i]!r}, Python {ref_fd!r}")
            elif got["fd"][i] is not None:
                bad.append(f"x={x}: {name} is not a leaf but has a finite difference")
    assert not bad, f"{len(bad)} of {n} comparisons differ:\n" + "\n".join(bad[:20])
    return n


def leaf_values(root: Value, rng: random.Random, low: float, high: float, n: int) -> list[list[float]]:
    """``n`` trials: each leaf of ``root``'s graph drawn from [low, high] (constants kept)."""
    spec = explore(root).spec
    return [[rng.uniform(low, high) if node["input"] else node["value"] for node in spec["nodes"]]
            for _ in range(n)]


@pytest.mark.browser
def test_script_rules_are_engine_ops_and_the_rest_is_generic(browser, blank) -> None:
    """The script's rules (as explorer.py reads them from explorer-rules.js) are engine ops; every
    other op of the registry is drawn from the engine's numbers, with no JavaScript."""
    ops_found = engine_ops()
    assert {"+", "*", "tanh"} <= set(ops_found), f"the op list read from the engine looks wrong: {ops_found}"
    in_js = set(blank.evaluate("mlpbookExplorer.ops"))
    assert in_js == set(js_rules()), (in_js, js_rules())
    assert in_js <= set(ops_found), f"rules for ops the engine does not have: {in_js - set(ops_found)}"
    assert {op.symbol for op in ops.OPS.values()} == set(ops_found)
    assert "gelu" in set(ops_found) - in_js  # the registry's GELU has no JavaScript rule


@pytest.mark.browser
def test_page_graph_matches_engine_on_a_seeded_grid(browser, blank) -> None:
    """L = tanh(a·b + c)·f: a grid over the sliders' range (tanh saturated and not, zeros,
    both signs) and seeded random points; every node's value and grad, every leaf's f.d."""
    root = page_graph()
    grid = [-5.0, -1.3, 0.0, 0.7, 5.0]
    rng = random.Random(20)
    trials = [[a, b, 0, c, 0, 0, f, 0] for a in grid for b in grid[::2] for c in grid for f in (-2.0, 0.5)]
    trials += leaf_values(root, rng, -5, 5, 100)
    assert [n["name"] for n in explore(root).spec["nodes"]] == list("abecdtfL")  # trials' order
    assert check_against_engine(blank, root, trials) >= 5000


GRAPHS = {  # name: (function of leaves x, y, the range of x, the range of y)
    "shared node, constants, x*x, x+x": (lambda x, y: (x * y + x) * 2.5 + x * x - (y + y), (-3, 3), (-3, 3)),
    "a - b, a / b (neg, **-1)": (lambda x, y: (x - y) / (y * y + 1), (-3, 3), (-3, 3)),
    "powers, integer and not": (lambda x, y: x ** 3 + y ** 0.5 * x ** -2 + (x * y) ** 2, (0.2, 3), (0.2, 3)),
    "exp, log": (lambda x, y: (x.exp() + y).log() * x, (-2, 2), (0.1, 3)),
    "tanh, sigmoid, relu": (lambda x, y: (x * y).tanh() + x.sigmoid() * y.relu() + (x - y).relu(),
                            (-4, 4), (-4, 4)),
    "sigmoid far out (both branches)": (lambda x, y: (x * 30).sigmoid() * y + (-x * 30).sigmoid(),
                                        (-3, 3), (-3, 3)),
}


RANGES = {"any": (-3, 3), "nonzero": (-3, 3), "positive": (0.2, 3)}
for _op in ops.OPS.values():  # a graph around every case of every op of the registry
    for _case in _op.checks:
        _two = len(_case.point) == 2
        GRAPHS[f"registry {_op.name}: {_case.label}"] = (
            (lambda x, y, f=_case.fn: f(x, y)) if _two else (lambda x, y, f=_case.fn: f(x) * y + f(x)),
            RANGES[_case.domain[0]], RANGES[_case.domain[1]] if _two else (-3, 3))


def generic(root: Value) -> bool:
    """Does the explorer draw one of the graph's ops from the engine's numbers?"""
    return any("local" in n for n in explore(root).spec["nodes"])


@pytest.mark.browser
@pytest.mark.parametrize("name", list(GRAPHS))
def test_every_engine_op_matches_engine(browser, blank, name: str) -> None:
    fn, xr, yr = GRAPHS[name]
    x, y = Value(1.0, label="x"), Value(1.0, label="y")
    root = fn(x, y)
    spec = explore(root).spec
    rng = random.Random(f"explorer {name}")
    trials = [[rng.uniform(*xr) if n["name"] == "x" else rng.uniform(*yr) if n["name"] == "y"
               else n["value"] for n in spec["nodes"]] for _ in range(60)]
    check_against_engine(blank, root, trials, GENERIC_TOL if generic(root) else TOL)
    # at the inputs the page set, even an op without a rule shows the engine's numbers exactly
    check_against_engine(blank, root, [[n["value"] for n in spec["nodes"]]], TOL)


def test_graphs_cover_every_engine_op() -> None:
    """The graphs above exercise every op (and x*x, x+x), so no rule goes untested."""
    seen = set()
    for fn, _, _ in GRAPHS.values():
        spec = explore(fn(Value(1.0, label="x"), Value(2.0, label="y"))).spec
        seen |= {op_key(n["op"]) for n in spec["nodes"] if n["op"]}
        ins = {}
        for a, b in spec["edges"]:
            ins.setdefault(b, []).append(a)
        seen |= {f"{n['op']} of one input" for n in spec["nodes"]
                 if n["op"] in "+*" and n["op"] and len(ins[n["id"]]) == 1}
    missing = (set(engine_ops()) | {"+ of one input", "* of one input"}) - seen
    assert not missing, f"no test graph uses {missing}"


@pytest.mark.browser
def test_script_reports_domain_errors_instead_of_nan(browser) -> None:
    """log of a negative number: the widget says so, shows no number, logs no console error."""
    x = Value(2.0, label="x")
    page = browser.new_page()
    errors = watch(page)
    try:
        page.set_content(standalone((x * 1.5).log()))
        page.fill(".mlpx input[type=number]", "-1")
        status = page.inner_text(".mlpx-status")
        texts = page.eval_on_selector_all(".mlpx-node text", "ts => ts.map(t => t.textContent)")
        for button in (".mlpx-step", ".mlpx-all"):  # aria-disabled: focusable, pressing does nothing
            page.focus(button)
            page.keyboard.press("Enter")
        grads = page.eval_on_selector_all(".mlpx-node", "gs => gs.map(g => g.dataset.grad)")
    finally:
        page.close()
    assert "log needs a positive value" in status, status
    assert not any("NaN" in t or "Infinity" in t for t in texts), texts
    assert grads == ["", "", "", ""], grads
    assert not errors, errors


@pytest.mark.browser
def test_an_op_without_a_rule_is_shown_from_the_engine(browser) -> None:
    """GELU has no JavaScript rule: the widget shows the engine's value, steps through its local
    derivative (written gelu'(x)) and follows a slider, with no console error."""
    x = Value(0.7, label="x")
    y = x.gelu()
    y.label = "y"
    page = browser.new_page()
    errors = watch(page)
    try:
        page.set_content(standalone(y))
        page.click(".mlpx-all")
        before = nodes_by_id(page)
        rule = page.inner_text(".mlpx-log li >> nth=1")
        page.fill(".mlpx input[type=number]", "-1.25")  # every gradient stays filled in
        after = nodes_by_id(page)
    finally:
        page.close()
    assert close(float(before[1]["value"]), y.data) and close(float(before[0]["grad"]),
                                                              ops.local_derivatives(y)[0])
    assert "gelu\u2032(x)" in rule, rule
    moved = Value(-1.25)
    out = moved.gelu()
    out.backward()
    assert close(float(after[1]["value"]), out.data, GENERIC_TOL)
    assert close(float(after[0]["grad"]), moved.grad, GENERIC_TOL)
    assert not errors, errors


# --- the HTML output -------------------------------------------------------------------------

URLISH = re.compile(r"https?:|ftp:|//[\w-]+\.[\w.-]+|\b(?:src|href|action)\s*=|@import|url\(\s*['\"]?(?!#)",
                    re.IGNORECASE)


def test_output_is_self_contained() -> None:
    html = explore(page_graph())._repr_html_()
    assert not URLISH.findall(html), f"explore()'s HTML refers to something: {URLISH.findall(html)}"
    assert script() in html  # the one script, inlined
    for part in PARTS:  # every part, in it, each one concept of at most 400 lines
        text = part.read_text(encoding="utf-8")
        assert text in script() and len(text.splitlines()) <= 400, part.name
    assert html.count("<script") == 2 and html.count("</script>") == 2  # the data and the script


def test_script_within_30_kb() -> None:
    size = len(script().encode("utf-8"))
    assert size <= MAX_SCRIPT_BYTES, f"the explorer's script is {size / 1024:.1f} KB (budget 30 KB)"


@pytest.mark.browser
def test_labels_cannot_break_out_of_the_page(browser) -> None:
    """A label is data: '</script>' in it neither ends the script nor runs anything."""
    evil = "</script><script>window.pwned = 1</script><b>&amp;"
    x = Value(0.5, label=evil)
    html = explore(x.tanh())._repr_html_()
    assert html.count("</script>") == 2, "a label ended the data <script> early"
    page = browser.new_page()
    errors = watch(page)
    try:
        page.set_content(standalone(x.tanh()))
        pwned = page.evaluate("window.pwned")
        label = page.inner_text(".mlpx-in label")
    finally:
        page.close()
    assert pwned is None and label == evil and not errors, (pwned, label, errors)


def test_output_is_deterministic() -> None:
    """Two kernels (processes) render the same graph to the same bytes: builds are stable."""
    code = ("from mlpbook.engine import Value; from mlpbook.explorer import explore\n"
            "a = Value(2.0, label='a'); print(explore((a * a).tanh(), h=1e-6)._repr_html_())")  # no torch
    env = {"PYTHONPATH": str(ROOT / "code"), "PATH": "/usr/bin:/bin"}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           check=True).stdout for _ in range(2)]
    assert runs[0] == runs[1] and 'id="mlpx-' in runs[0]


def test_explore_rejects_bad_input() -> None:
    root = page_graph()
    with pytest.raises(TypeError, match="root must be a mlpbook.engine.Value"):
        explore(2.0)
    for kwargs, name in [({"limits": (1, -1)}, "limits"), ({"limits": (0, math.inf)}, "limits"),
                         ({"limits": 5}, "limits"), ({"step": 0}, "step"), ({"h": -1e-6}, "h"),
                         ({"max_nodes": 0}, "max_nodes"), ({"max_nodes": 3}, "max_nodes")]:
        with pytest.raises(ValueError, match=name):
            explore(root, **kwargs)
    assert "Explorer(L: 8 nodes, inputs a, b, c, f" in repr(explore(root))


def standalone(root: Value) -> str:
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>explorer</title>"
            "</head><body><main>" + explore(root)._repr_html_() + "</main></body></html>")


# --- the widget on the built page --------------------------------------------------------------

def open_page(browser, site: str, theme: str = "light", width: str = "desktop",
              js: bool = True):
    """The backprop page in a fresh context; returns (page, problems list, context)."""
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h}, color_scheme=theme,
                                  has_touch=width != "desktop", java_script_enabled=js,
                                  service_workers="block")
    context.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');"
                            if theme == "dark" else "localStorage.clear();")
    page = context.new_page()
    problems = watch(page)

    def route(r):
        if urlsplit(r.request.url).hostname == "127.0.0.1" or r.request.url.startswith("data:"):
            r.continue_()
        else:
            problems.append(f"external request: {r.request.url}")
            r.abort()

    page.route("**/*", route)
    page.goto(site + PAGE + ".html", wait_until="load")
    if js:
        page.wait_for_selector(".mlpx[data-mounted='1'] .mlpx-node")
    return page, problems, context


NODES_JS = """() => [...document.querySelectorAll('.mlpx .mlpx-node')].map(g => ({
  id: +g.dataset.id, value: g.dataset.value, grad: g.dataset.grad, fd: g.dataset.fd,
  current: g.getAttribute('aria-current') === 'step', label: g.getAttribute('aria-label'),
  text: [...g.querySelectorAll('text')].map(t => t.textContent)}))"""


def page_spec(page) -> dict:
    return json.loads(page.text_content(".mlpx script.mlpx-spec"))


def nodes_by_id(page) -> dict[int, dict]:
    return {n["id"]: n for n in page.evaluate(NODES_JS)}


def shown(x: float) -> str:
    """A number as the widget prints it (4 decimals, Unicode minus)."""
    return f"{x:.4f}".replace("-", "\u2212")


def factor(x: float) -> str:
    """A number after another in a product: negative ones in parentheses."""
    return f"({shown(x)})" if x < 0 else shown(x)


def inputs_of(spec: dict) -> list[dict]:
    return [n for n in spec["nodes"] if n["input"]]


def set_inputs(page, spec: dict, values: dict[str, float]) -> list[float]:
    """Type each value into its number field; return the leaf values as the engine needs them."""
    x = [n["value"] for n in spec["nodes"]]
    for n in inputs_of(spec):
        if n["name"] in values:
            page.fill(f"#{page_root_id(page)}-n{n['id']}", repr(values[n["name"]]))
            x[n["id"]] = values[n["name"]]
    return x


def page_root_id(page) -> str:
    return page.get_attribute(".mlpx", "id")


@pytest.mark.book
@pytest.mark.browser
def test_page_shows_its_own_graph_traced_by_the_engine(browser, site: str) -> None:
    """In the chain-rule section; the spec is the engine's trace of the page's L, and every value
    shown is the engine's."""
    page, problems, context = open_page(browser, site)
    try:
        inside = page.evaluate("""() => document.getElementById('sec-backprop-chain-rule')
            .closest('section').contains(document.querySelector('.mlpx'))""")
        title = page.inner_text(".mlpx-title")
        spec = page_spec(page)
        nodes = nodes_by_id(page)
    finally:
        context.close()
    assert inside, "the explorer is not in section sec-backprop-chain-rule"
    assert title.endswith("L = tanh(a\u00b7b + c)\u00b7f"), title
    x = [n["value"] for n in spec["nodes"]]
    assert explore(engine_graph(spec, x)[spec["root"]]).spec == spec  # the engine's own trace
    ref = engine_graph(spec, x)
    for i, v in enumerate(ref):
        assert close(float(nodes[i]["value"]), v.data) and shown(v.data) in nodes[i]["text"][1]
        assert nodes[i]["grad"] == "" and not nodes[i]["current"]  # nothing stepped yet
    assert not problems, problems


@pytest.mark.book
@pytest.mark.browser
def test_inputs_update_every_value(browser, site: str) -> None:
    """Typed values (seeded) and the slider's arrow keys: every node's value is the engine's."""
    page, problems, context = open_page(browser, site)
    rng = random.Random(7)
    try:
        spec = page_spec(page)
        for _ in range(4):
            values = {n["name"]: round(rng.uniform(-5, 5), 3) for n in inputs_of(spec)}
            x = set_inputs(page, spec, values)
            nodes = nodes_by_id(page)
            for i, v in enumerate(engine_graph(spec, x)):
                assert close(float(nodes[i]["value"]), v.data), (values, spec["nodes"][i]["name"])
                assert nodes[i]["text"][1] == "data " + shown(v.data)
        a = inputs_of(spec)[0]
        slider = page.locator(f"#{page_root_id(page)}-r{a['id']}")
        page.fill(f"#{page_root_id(page)}-n{a['id']}", "1")
        slider.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        expected = 1 + 3 * spec["step"]
        number = float(page.input_value(f"#{page_root_id(page)}-n{a['id']}"))
        x[a["id"]] = number
        nodes = nodes_by_id(page)
    finally:
        context.close()
    assert abs(number - expected) < 1e-9, (number, expected)
    for i, v in enumerate(engine_graph(spec, x)):
        assert close(float(nodes[i]["value"]), v.data)
    assert not problems, problems


@pytest.mark.book
@pytest.mark.browser
def test_stepping_backward_node_by_node(browser, site: str) -> None:
    """Each Step highlights the next node in reverse topological order, fills in exactly its
    gradient (the engine's), and shows its local rule with the numbers substituted."""
    page, problems, context = open_page(browser, site)
    try:
        spec = page_spec(page)
        x = set_inputs(page, spec, {"a": 0.8, "b": -1.25, "c": 0.3, "f": 1.7})
        ref = engine_graph(spec, x)
        order = [v.label for v in reversed(ref)]
        seen = []
        for k in range(1, len(ref) + 1):
            page.click(".mlpx-step")
            nodes = nodes_by_id(page)
            current = [i for i, n in nodes.items() if n["current"]]
            assert len(current) == 1, f"step {k}: highlighted {current}"
            i = current[0]
            seen.append(spec["nodes"][i]["name"])
            assert close(float(nodes[i]["grad"]), ref[i].grad), (k, seen[-1])
            assert nodes[i]["text"][2] == "grad " + shown(ref[i].grad)
            filled = {spec["nodes"][j]["name"] for j, n in nodes.items() if n["grad"] != ""}
            assert filled == set(seen), f"step {k}: grads shown for {filled}, stepped {seen}"
            status = page.inner_text(".mlpx-status")
            assert status.startswith(f"Step {k} of {len(ref)}"), status
            assert f"\u2202L/\u2202{seen[-1]} = " in status
            assert status.endswith(" = 1" if k == 1 else " = " + shown(ref[i].grad)), status
            assert page.locator(".mlpx-log li").count() == k
        tanh_rule = page.inner_text(".mlpx-log li >> nth=3")
    finally:
        context.close()
    assert seen == order == ["L", "f", "t", "d", "c", "e", "b", "a"], seen
    t = ref[[n["name"] for n in spec["nodes"]].index("t")]
    assert tanh_rule == (f"\u2202L/\u2202d = \u2202L/\u2202t \u00b7 (1 \u2212 t\u00b2) = "
                         f"{shown(t.grad)} \u00b7 (1 \u2212 {factor(t.data)}\u00b2) = "
                         f"{shown(ref[3].grad)}"), tanh_rule
    assert not problems, problems


@pytest.mark.book
@pytest.mark.browser
def test_whole_pass_by_keyboard_only(browser, site: str) -> None:
    """Tab to the explorer, change an input with the arrows and one by typing, Enter through every
    step, Reset, Run all and the finite-difference toggle: no mouse."""
    page, problems, context = open_page(browser, site)
    kb = page.keyboard
    active = "() => { const e = document.activeElement; return e && e.closest('.mlpx') ? " \
             "(e.className || e.type) + ':' + (e.id || e.textContent) : '' }"
    try:
        spec = page_spec(page)
        N = len(spec["nodes"])
        for _ in range(400):  # Tab from the top of the page until the explorer's first control
            kb.press("Tab")
            if page.evaluate(active):
                break
        first = page.evaluate(active)
        assert first.startswith("range:") and first.endswith("-r0"), f"first stop: {first!r}"
        kb.press("ArrowLeft")            # slider a: one step down
        kb.press("Tab")                  # number field a
        kb.press("Control+a")
        kb.type("1.5")
        kb.press("Tab")                  # slider b
        kb.press("ArrowRight")
        kb.press("ArrowRight")
        for _ in range(20):              # on to the Step button
            kb.press("Tab")
            if "mlpx-step" in page.evaluate(active):
                break
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        for _ in range(N):
            kb.press("Enter")
        nodes = nodes_by_id(page)
        values = {n["name"]: float(page.input_value(f"#{page_root_id(page)}-n{n['id']}"))
                  for n in inputs_of(spec)}
        kb.press("Tab")                  # Run all
        kb.press("Tab")                  # Reset
        kb.press("Enter")
        cleared = [n["grad"] for n in nodes_by_id(page).values()]
        kb.press("Shift+Tab")            # back to Run all
        kb.press("Enter")
        after_all = nodes_by_id(page)
        kb.press("Tab")
        kb.press("Tab")                  # the finite-difference toggle
        kb.press("Enter")
        pressed = page.get_attribute(".mlpx-fd", "aria-pressed")
        fds = nodes_by_id(page)
    finally:
        context.close()
    assert outline not in ("", "none"), "the focused button shows no focus outline"
    b0 = next(n["value"] for n in spec["nodes"] if n["name"] == "b")
    assert values["a"] == 1.5 and abs(values["b"] - (b0 + 2 * spec["step"])) < 1e-9, values
    x = [values.get(n["name"], n["value"]) for n in spec["nodes"]]
    ref = engine_graph(spec, x)
    for i, v in enumerate(ref):
        assert close(float(nodes[i]["grad"]), v.grad), spec["nodes"][i]["name"]
        assert close(float(after_all[i]["grad"]), v.grad)
    assert cleared == [""] * N, cleared
    assert pressed == "true"
    for n in inputs_of(spec):
        assert close(float(fds[n["id"]]["fd"]), fd_reference(spec, x, n["id"]), FD_TOL)
        assert abs(float(fds[n["id"]]["fd"]) - ref[n["id"]].grad) < 1e-6
        assert fds[n["id"]]["text"][3] == "f.d. " + shown(float(fds[n["id"]]["fd"]))
    assert not problems, problems


LAYOUT_JS = """() => {
  const root = document.querySelector('.mlpx'), svg = root.querySelector('svg');
  const r = root.getBoundingClientRect();
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const body = parseFloat(getComputedStyle(document.querySelector('article p')).fontSize);
  const spill = [...root.querySelectorAll('.mlpx-node')].flatMap(g => {
    const box = g.querySelector('rect').getBBox();
    return [...g.querySelectorAll('text')].filter(t => t.textContent &&
      t.getBBox().x + t.getBBox().width > box.x + box.width).map(t => t.textContent);
  });
  const boxes = [...root.querySelectorAll('.mlpx-node rect')].map(b => b.getBoundingClientRect());
  const overlaps = boxes.flatMap((a, i) => boxes.slice(i + 1).filter(b =>
    a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)).length;
  return {left: r.left, right: r.right, innerWidth, overflow: root.scrollWidth - root.clientWidth,
          font: 14 * scale, body, spill, overlaps, layout: svg.dataset.layout};
}"""


@pytest.mark.book
@pytest.mark.browser
@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_readable_accessible_and_within_the_screen(browser, site: str, theme: str,
                                                  width: str) -> None:
    """Stepped halfway with finite differences on (every state on screen): axe finds nothing
    serious in the explorer; it fits the screen; graph text is readable and stays in its boxes.
    Screenshots of the states for a human: _build/screenshots/explorer-<theme>-<width>-*.png."""
    page, problems, context = open_page(browser, site, theme, width)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.add_style_tag(content=".bd-header, .skip-link { visibility: hidden !important; }")
        for _ in range(4):
            page.click(".mlpx-step")
        page.click(".mlpx-fd")
        page.locator(".mlpx").scroll_into_view_if_needed()
        page.locator(".mlpx").screenshot(path=str(SCREENSHOTS / f"explorer-{theme}-{width}-step4.png"))
        layout = page.evaluate(LAYOUT_JS)
        applied = page.evaluate("document.documentElement.dataset.theme")
        loading = list(problems)  # what axe fetches itself afterwards is not the page's
        page.evaluate(axe_script())
        violations = page.evaluate("""() => axe.run(document.querySelector('.mlpx'),
            {resultTypes: ['violations']}).then(r => r.violations.map(v => ({id: v.id,
            impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))""")
    finally:
        context.close()
    assert applied == theme
    serious = [v for v in violations if v["impact"] in SERIOUS]
    assert not serious, f"axe ({theme}, {width}): {serious}"
    assert layout["left"] >= 0 and layout["right"] <= layout["innerWidth"] + 0.5, layout
    assert layout["overflow"] <= 0, f"the explorer scrolls sideways: {layout}"
    assert not layout["spill"] and not layout["overlaps"], layout
    floor = 12 if width != "desktop" else 0.8 * layout["body"]
    assert layout["font"] >= floor, f"graph text {layout['font']:.1f} px < {floor:.1f} px: {layout}"
    assert layout["layout"] == ("horizontal" if width == "desktop" else "vertical"), layout
    assert not loading, loading


BUTTONS_JS = """() => Object.fromEntries(['step', 'all', 'reset'].map(k =>
  [k, document.querySelector('.mlpx-' + k).getAttribute('aria-disabled') === 'true']))"""


@pytest.mark.book
@pytest.mark.browser
def test_buttons_look_disabled_when_they_cannot_act(browser, site: str) -> None:
    """Step and Run all look disabled after the last step (and say so when pressed), Reset
    before the first; all stay focusable."""
    page, problems, context = open_page(browser, site)
    try:
        N = len(page_spec(page)["nodes"])
        start = page.evaluate(BUTTONS_JS)
        for _ in range(N - 1):
            page.click(".mlpx-step")
        before_last = page.evaluate(BUTTONS_JS)
        page.click(".mlpx-step")
        done = page.evaluate(BUTTONS_JS)
        opacity = page.evaluate("getComputedStyle(document.querySelector('.mlpx-step')).opacity")
        page.click(".mlpx-step", force=True)  # Playwright waits for aria-disabled buttons: force
        said = page.inner_text(".mlpx-live")
        step = page.get_attribute(".mlpx", "data-step")
        page.click(".mlpx-reset")
        reset = page.evaluate(BUTTONS_JS)
    finally:
        context.close()
    assert start == {"step": False, "all": False, "reset": True}, start
    assert before_last == {"step": False, "all": False, "reset": False}, before_last
    assert done == {"step": True, "all": True, "reset": False}, done
    assert float(opacity) < 1 and step == str(N) and "Reset to start again" in said, (opacity, said)
    assert reset == start, reset
    assert not problems, problems


FIT_JS = """() => {
  const root = document.querySelector('.mlpx'), view = root.querySelector('.mlpx-view');
  const top = root.querySelector('.mlpx-buttons').getBoundingClientRect().top;
  const v = view.getBoundingClientRect();
  const c = root.querySelector('.mlpx-node[aria-current] rect') || root.querySelector('.mlpx-out rect');
  const r = c.getBoundingClientRect();
  return {span: v.bottom - top, inView: r.top >= v.top - 0.5 && r.bottom <= v.bottom + 0.5
          && r.left >= v.left - 0.5 && r.right <= v.right + 0.5, innerHeight};
}"""


@pytest.mark.book
@pytest.mark.browser
@pytest.mark.parametrize("width", ["360", "390"])
def test_graph_and_step_control_fit_a_phone_screen(browser, site: str, width: str) -> None:
    """On a phone the buttons, the status and the graph's view fit one screen, and the node of
    the current step (at first the output L, where the backward pass starts) is in the view."""
    page, problems, context = open_page(browser, site, width=width)
    seen = []
    try:
        page.locator(".mlpx-buttons").scroll_into_view_if_needed()
        seen.append(page.evaluate(FIT_JS))
        for _ in range(len(page_spec(page)["nodes"])):
            page.click(".mlpx-step")
            seen.append(page.evaluate(FIT_JS))
        page.click(".mlpx-reset")
        seen.append(page.evaluate(FIT_JS))
    finally:
        context.close()
    assert all(s["span"] <= s["innerHeight"] for s in seen), seen
    assert all(s["inView"] for s in seen), [i for i, s in enumerate(seen) if not s["inView"]]
    assert not problems, problems


@pytest.mark.book
@pytest.mark.browser
def test_layout_holds_with_long_numbers(browser, site: str) -> None:
    """A large input widens the boxes but never flips the layout or spills text out of a box."""
    page, problems, context = open_page(browser, site)
    try:
        before = page.evaluate(LAYOUT_JS)
        set_inputs(page, page_spec(page), {"a": -1234.5678, "c": 0.00012})
        page.click(".mlpx-all")
        page.click(".mlpx-fd")
        after = page.evaluate(LAYOUT_JS)
    finally:
        context.close()
    assert before["layout"] == after["layout"] == "horizontal", (before, after)
    assert not after["spill"] and not after["overlaps"] and after["overflow"] <= 0, after
    assert not problems, problems


@pytest.mark.book
@pytest.mark.browser
def test_without_javascript_the_static_figures_remain(browser, site: str) -> None:
    page, problems, context = open_page(browser, site, js=False)
    try:
        note = page.inner_text(".mlpx-nojs")
        # each figure is a <picture> per theme: the one shown (light, without the theme's
        # script) must be there, with its alt text
        figures = page.eval_on_selector_all(
            "#fig-backprop-forward img, #fig-backprop-backward img",
            "is => is.filter(i => i.checkVisibility()).map(i => i.alt)")
        svg = page.locator(".mlpx svg").count()
    finally:
        context.close()
    assert "needs JavaScript" in note and svg == 0
    assert len(figures) == 2 and all(figures), figures


# --- Colab ---------------------------------------------------------------------------------------

COLAB_CELL = '''\
from IPython import get_ipython
import mlpbook
from mlpbook.engine import Value
from mlpbook.explorer import explore

a, b, c, f = (Value(v, label=n) for n, v in zip("abcf", (0.5, -4.0, 1.0, 3.0)))  # a student's numbers
L = (a * b + c).tanh() * f
L.label = "L"
ex = explore(L)
display(ex)
data, _ = get_ipython().display_formatter.format(ex)  # what the notebook front end receives
open("explore.html", "w", encoding="utf-8").write(data["text/html"])
print(mlpbook.__file__)
'''


@pytest.mark.book
@pytest.mark.browser
def test_explore_displays_in_colab_sim(browser, built_book: Path, tmp_path: Path) -> None:
    """The notebooks' setup cell installs mlpbook (package data included) in a Colab-like
    virtualenv; explore() displays there; its HTML, opened offline, runs: every value is the
    engine's and no request is made."""
    import nbformat
    from test_colab import SETUP_ID, make_colab_venv, run_in_colab_sim, site_view

    setup = nbformat.read(built_book / "notebooks" / "backprop.ipynb", as_version=4).cells[0]
    assert setup.id == SETUP_ID
    work = tmp_path / "run"
    (work / "notebooks").mkdir(parents=True)
    notebook = work / "notebooks" / "explore.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[setup, nbformat.v4.new_code_cell(COLAB_CELL)]), notebook)
    python = make_colab_venv(work / "venv", site_view(tmp_path / "site-view"))
    code = shutil.copytree(SITE_ROOT / "code", work / "code",
                           ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    # run_in_colab_sim sets os.environ: a process of its own, spawned (not forked from Playwright)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = pool.submit(run_in_colab_sim, str(notebook), str(python), str(code), str(work)).result()
    assert result["error"] is None, result["error"]
    assert Path(result["probe"]["mlpbook"]).is_relative_to(work / "venv"), result["probe"]
    html = (work / "notebooks" / "explore.html").read_text(encoding="utf-8")
    assert not URLISH.findall(html), URLISH.findall(html)

    requests: list[str] = []
    page = browser.new_page()
    errors = watch(page)
    page.route("**/*", lambda r: (requests.append(r.request.url), r.abort()))
    try:
        page.set_content("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>x</title>"
                         f"</head><body>{html}</body></html>")
        page.wait_for_selector(".mlpx[data-mounted='1'] .mlpx-node")
        spec = page_spec(page)
        page.click(".mlpx-all")
        nodes = nodes_by_id(page)
    finally:
        page.close()
    ref = engine_graph(spec, [n["value"] for n in spec["nodes"]])
    assert [v.data for v in ref][:2] == [0.5, -4.0]
    for i, v in enumerate(ref):
        assert close(float(nodes[i]["value"]), v.data) and close(float(nodes[i]["grad"]), v.grad)
    assert not requests and not errors, (requests, errors)
