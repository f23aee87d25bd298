/* mlpbook backprop explorer: vanilla JS + SVG, no dependencies, no network.
 *
 * mlpbook.explorer.explore(root) writes a traced Value graph (nodes in topological order with
 * their op, value and layout, and the edges) as JSON into a <div class="mlpx">, followed by this
 * script. mount() draws the graph, recomputes every value when an input changes and walks the
 * backward pass one node at a time, in reverse topological order.
 *
 * RULES holds, for each op of mlpbook/engine.py, its forward value and its local backward rule,
 * written to do the same float arithmetic in the same order as the engine's _backward closures.
 * The tests run compute() in Chromium and compare it with the engine to 1e-12.
 */
(function () {
  "use strict";
  if (window.mlpbookExplorer) { window.mlpbookExplorer.mountAll(); return; }

  var SVGNS = (function () {  // from the HTML parser, so that the output holds no URL at all
    var d = document.createElement("div");
    d.innerHTML = "<svg></svg>";
    return d.firstChild.namespaceURI;
  })();
  var MINUS = "\u2212";

  function fmt(x) {  // 4 decimals, scientific if tiny or huge (as mlpbook.graph draws numbers)
    var s = (x === 0 || (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4)) ? x.toFixed(4)
      : x.toExponential(2).replace(/e([+-])(\d)$/, "e$10$2");
    return s.charAt(0) === "-" ? MINUS + s.slice(1) : s;
  }
  function fmtP(x) { return x < 0 ? "(" + fmt(x) + ")" : fmt(x); }  // a factor after another
  function short(x) { var s = String(+x.toPrecision(6)); return s.replace("-", MINUS); }
  function paren(s) { return /^[^\u2212\s]\S*$/.test(s) ? s : "(" + s + ")"; }  // a name

  function DomainError(message) { this.message = message; }

  /* Each rule: arity (operands); value(xs, p) = the forward value; title(names, p) = the node's
   * defining expression; terms(o, k) = the contribution of output node o to operand k's grad.
   * In terms, o = {v: out value, g: out grad, x: operand values, n: operand names, out: out name,
   * p: exponent}, and the result is [number added to the grad, symbolic factor, numeric factor];
   * the number is computed exactly as the engine computes it (operand order included). */
  var RULES = {
    "+": {
      arity: 2, prec: 1,
      value: function (x) { return x[0] + x[1]; },
      title: function (n) { return n[0] + " + " + n[1]; },
      terms: function (o) { return [o.g, "1", "1"]; }
    },
    "*": {
      arity: 2, prec: 2,
      value: function (x) { return x[0] * x[1]; },
      title: function (n) { return n[0] + "\u00b7" + n[1]; },
      terms: function (o, k) {  // self.grad += other.data * out.grad, and the other way round
        return [o.x[1 - k] * o.g, paren(o.n[1 - k]), fmtP(o.x[1 - k])];
      }
    },
    "**": {
      arity: 1, prec: 4,
      value: function (x, p) {
        if (x[0] <= 0 && !Number.isInteger(p)) {
          throw new DomainError("x ** " + short(p) + " needs x > 0");
        }
        if (x[0] === 0 && p < 0) throw new DomainError("0 ** " + short(p) + " is undefined");
        return Math.pow(x[0], p);
      },
      title: function (n, p) { return n[0] + "^" + (p < 0 ? "(" + short(p) + ")" : short(p)); },
      terms: function (o) {  // p * x ** (p - 1) * out.grad
        var q = short(o.p - 1);
        return [o.p * Math.pow(o.x[0], o.p - 1) * o.g,
          short(o.p) + "\u00b7" + paren(o.n[0]) + "^" + (o.p - 1 < 0 ? "(" + q + ")" : q),
          short(o.p) + "\u00b7" + fmtP(o.x[0]) + "^" + (o.p - 1 < 0 ? "(" + q + ")" : q)];
      }
    },
    "neg": {
      arity: 1, prec: 3,
      value: function (x) { return -x[0]; },
      title: function (n) { return MINUS + n[0]; },
      terms: function (o) { return [-o.g, "(" + MINUS + "1)", "(" + MINUS + "1)"]; }  // grad -= out.grad
    },
    "exp": {
      arity: 1, prec: 9,
      value: function (x) { return Math.exp(x[0]); },
      title: function (n) { return "exp(" + n[0] + ")"; },
      terms: function (o) { return [o.v * o.g, o.out, fmtP(o.v)]; }  // out.data * out.grad
    },
    "log": {
      arity: 1, prec: 9,
      value: function (x) {
        if (x[0] <= 0) throw new DomainError("log needs a positive value");
        return Math.log(x[0]);
      },
      title: function (n) { return "log(" + n[0] + ")"; },
      terms: function (o) { return [o.g / o.x[0], "1/" + paren(o.n[0]), "1/" + fmtP(o.x[0])]; }
    },
    "tanh": {
      arity: 1, prec: 9,
      value: function (x) { return Math.tanh(x[0]); },
      title: function (n) { return "tanh(" + n[0] + ")"; },
      terms: function (o) {  // (1 - t**2) * out.grad
        return [(1 - o.v * o.v) * o.g, "(1 " + MINUS + " " + paren(o.out) + "\u00b2)",
          "(1 " + MINUS + " " + fmtP(o.v) + "\u00b2)"];
      }
    },
    "sigmoid": {
      arity: 1, prec: 9,
      value: function (x) {  // the engine's overflow-free form
        return x[0] >= 0 ? 1 / (1 + Math.exp(-x[0])) : Math.exp(x[0]) / (1 + Math.exp(x[0]));
      },
      title: function (n) { return "\u03c3(" + n[0] + ")"; },
      terms: function (o) {  // s * (1 - s) * out.grad
        return [o.v * (1 - o.v) * o.g, paren(o.out) + "\u00b7(1 " + MINUS + " " + paren(o.out) + ")",
          fmtP(o.v) + "\u00b7(1 " + MINUS + " " + fmtP(o.v) + ")"];
      }
    },
    "relu": {
      arity: 1, prec: 9,
      value: function (x) { return Math.max(0, x[0]); },
      title: function (n) { return "relu(" + n[0] + ")"; },
      terms: function (o) {  // (self.data > 0) * out.grad
        var on = o.x[0] > 0 ? 1 : 0;
        return [on * o.g, "[" + o.n[0] + " > 0]", String(on)];
      }
    }
  };

  /* The graph as the script uses it: rule, operands and users of every node. */
  function prepare(spec) {
    var nodes = spec.nodes, n = nodes.length;
    var ins = nodes.map(function () { return []; });
    var users = nodes.map(function () { return []; });
    spec.edges.forEach(function (e) { ins[e[1]].push(e[0]); });
    var G = { spec: spec, n: n, rule: [], p: [], ops: [], users: users, order: [] };
    nodes.forEach(function (node, i) {
      if (node.id !== i) throw new Error("node ids must be 0..n-1 in order");
      if (!ins[i].length) { G.rule.push(null); G.ops.push([]); G.p.push(null); return; }
      var op = node.op, key = op.slice(0, 2) === "**" ? "**" : op, rule = RULES[key];
      if (!rule) throw new Error("the explorer has no rule for the op " + JSON.stringify(op));
      var operands = ins[i];  // the engine de-duplicates prev: x * x has the one input x
      if (operands.length === 1 && rule.arity === 2) operands = [operands[0], operands[0]];
      if (operands.length !== rule.arity) {
        throw new Error("op " + op + " with " + operands.length + " inputs");
      }
      G.rule.push(rule); G.ops.push(operands); G.p.push(key === "**" ? Number(op.slice(2)) : null);
      ins[i].forEach(function (j) { users[j].push(i); });
    });
    for (var i = n - 1; i >= 0; i--) G.order.push(i);  // reverse topological order
    users.forEach(function (u) { u.sort(function (a, b) { return b - a; }); });  // as backward() runs
    G.root = spec.root;
    return G;
  }

  function forward(G, x) {  // x: a value per node; only the leaves are read
    var v = new Float64Array(G.n);
    for (var i = 0; i < G.n; i++) {
      if (!G.rule[i]) { v[i] = x[i]; continue; }
      var xs = G.ops[i].map(function (j) { return v[j]; });
      try {
        v[i] = G.rule[i].value(xs, G.p[i]);
      } catch (e) {
        if (e instanceof DomainError) e.node = i;
        throw e;
      }
      if (!isFinite(v[i])) {
        var err = new DomainError("overflow: the value is not finite");
        err.node = i;
        throw err;
      }
    }
    return v;
  }

  /* The terms of node i's gradient, one per (user, operand position), in the engine's order. */
  function terms(G, v, g, i) {
    var names = G.spec.nodes.map(function (node) { return node.name; }), out = [];
    G.users[i].forEach(function (u) {
      G.ops[u].forEach(function (j, k) {
        if (j !== i) return;
        var t = G.rule[u].terms({ v: v[u], g: g[u], x: G.ops[u].map(function (m) { return v[m]; }),
          n: G.ops[u].map(function (m) { return names[m]; }), out: names[u], p: G.p[u] }, k);
        out.push({ user: u, value: t[0], sym: t[1], num: t[2] });
      });
    });
    return out;
  }

  function backward(G, v) {  // every node's dL/dnode, as mlpbook's Value.backward() computes it
    var g = new Float64Array(G.n);
    G.order.forEach(function (i) {
      if (i === G.root) { g[i] = 1; return; }
      var sum = 0;
      terms(G, v, g, i).forEach(function (t) { sum += t.value; });
      g[i] = sum;
    });
    return g;
  }

  function centralDifference(G, x, leaf, h) {  // (L(x + h) - L(x - h)) / (2 h), as gradcheck
    var up = Array.prototype.slice.call(x), down = up.slice();
    up[leaf] = x[leaf] + h; down[leaf] = x[leaf] - h;
    return (forward(G, up)[G.root] - forward(G, down)[G.root]) / (2 * h);
  }

  /* Everything, for the tests: values, grads and each leaf's finite difference. */
  function compute(spec, x) {
    var G = prepare(spec), v = forward(G, x), g = backward(G, v);
    return { values: Array.from(v), grads: Array.from(g), order: G.order,
      fd: spec.nodes.map(function (_, i) {
        return G.rule[i] ? null : centralDifference(G, x, i, spec.h);
      }) };
  }

  /* ---- the widget ------------------------------------------------------------------------ */

  function el(tag, attrs, parent, text) {
    var e = tag.slice(0, 4) === "svg:" ? document.createElementNS(SVGNS, tag.slice(4))
      : document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function dL(name, root) { return "\u2202" + root + "/\u2202" + name; }

  function mount(root) {
    if (root.dataset.mounted) return;
    root.dataset.mounted = "1";
    var spec = JSON.parse(root.querySelector("script.mlpx-spec").textContent);
    var G = prepare(spec), uid = root.id, nodes = spec.nodes, N = G.n;
    var R = nodes[G.root].name;
    var st = { x: nodes.map(function (node) { return node.value; }), k: 0, fd: false };
    var nojs = root.querySelector(".mlpx-nojs");
    if (nojs) nojs.remove();

    var expr = title(G.root, true).length > 60 ? title(G.root) : title(G.root, true);
    el("p", { class: "mlpx-title", id: uid + "-title" }, root,
      "Backpropagation explorer: " + R + (G.rule[G.root] ? " = " + expr : ""));
    root.setAttribute("role", "region");
    root.setAttribute("aria-labelledby", uid + "-title");
    el("p", { class: "mlpx-help" }, root,
      "Set the inputs; every value updates at once. Step backward applies one local rule at a " +
      "time, from " + R + " back to the inputs; Reset clears the gradients.");

    var box = el("div", { class: "mlpx-inputs" }, root);
    nodes.forEach(function (node) {
      if (!node.input) return;
      var row = el("div", { class: "mlpx-in" }, box);
      el("label", { for: uid + "-r" + node.id }, row, node.name);
      var r = el("input", { type: "range", id: uid + "-r" + node.id, min: spec.limits[0],
        max: spec.limits[1], step: spec.step, value: node.value }, row);
      var num = el("input", { type: "number", id: uid + "-n" + node.id, step: "any",
        value: node.value, "aria-label": node.name + ", exact value", inputmode: "decimal" }, row);
      r.addEventListener("input", function () { num.value = r.value; set(node.id, +r.value); });
      num.addEventListener("input", function () {
        var val = num.value.trim() === "" ? NaN : Number(num.value);
        num.setAttribute("aria-invalid", isFinite(val) ? "false" : "true");
        if (isFinite(val)) { r.value = val; set(node.id, val); }
      });
    });

    var bar = el("div", { class: "mlpx-buttons" }, root);
    var bStep = el("button", { type: "button", class: "mlpx-step" }, bar, "Step backward");
    var bAll = el("button", { type: "button", class: "mlpx-all" }, bar, "Run all");
    var bReset = el("button", { type: "button", class: "mlpx-reset" }, bar, "Reset");
    var bFd = el("button", { type: "button", class: "mlpx-fd", "aria-pressed": "false" }, bar,
      "Finite differences");
    var status = el("p", { class: "mlpx-status" }, root);
    var svg = el("svg:svg", { class: "mlpx-graph", role: "group", "aria-label":
      "Computational graph of " + R + ", inputs first" }, root);
    var log = el("ol", { class: "mlpx-log", "aria-label": "Backward steps so far" }, root);
    var fdNote = el("p", { class: "mlpx-fdnote", hidden: "" }, root);
    var live = el("p", { class: "mlpx-live", "aria-live": "polite" }, root);

    bStep.addEventListener("click", function () {
      if (st.err) return;
      if (st.k < N) { st.k++; update(); say(line(G.order[st.k - 1])); }
      else say("All " + N + " gradients are filled in. Reset to start again.");
    });
    bAll.addEventListener("click", function () {
      if (st.err) return;
      st.k = N; update(); say("All " + N + " gradients filled in."); });
    bReset.addEventListener("click", function () { st.k = 0; update(); say("Gradients cleared."); });
    bFd.addEventListener("click", function () {
      st.fd = !st.fd; bFd.setAttribute("aria-pressed", String(st.fd)); update();
    });

    function say(text) { live.textContent = text; }
    function set(id, val) { st.x[id] = val; update(); }
    function title(i, expand) {  // node i's defining expression: of names, or in full
      if (!G.rule[i]) return nodes[i].name;
      var prec = G.rule[i].prec;
      return G.rule[i].title(G.ops[i].map(function (j) {
        var s = expand && G.rule[j] ? title(j, true) : nodes[j].name;
        var p = expand && G.rule[j] ? G.rule[j].prec : /^\u2212/.test(s) ? 3 : 9;
        return prec < 9 && (p < prec || (p === prec && prec >= 3)) ? "(" + s + ")" : s;
      }), G.p[i]);
    }
    function line(i) {  // the local rule of step i, symbols then numbers
      if (i === G.root) return dL(R, R) + " = 1";
      var ts = terms(G, st.v, st.g, i);
      var sym = ts.map(function (t) { return dL(nodes[t.user].name, R) + " \u00b7 " + t.sym; }).join(" + ");
      var num = ts.map(function (t, j) {
        return (j ? fmtP : fmt)(st.g[t.user]) + " \u00b7 " + t.num;
      }).join(" + ");
      return dL(nodes[i].name, R) + " = " + sym + " = " + num + " = " + fmt(st.g[i]);
    }

    function update() {
      st.err = "";
      try {
        st.v = forward(G, st.x);
        st.g = backward(G, st.v);
        st.fdv = nodes.map(function (node, i) {
          return st.fd && !G.rule[i] ? centralDifference(G, st.x, i, spec.h) : null;
        });
      } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        st.err = nodes[e.node].name + " = " + title(e.node) + ": " + e.message + ".";
      }
      [bStep, bAll].forEach(function (b) { b.setAttribute("aria-disabled", String(!!st.err)); });
      status.textContent = st.err ? "Cannot compute: " + st.err
        : "Step " + st.k + " of " + N + (st.k ? ": " + line(G.order[st.k - 1]) : ": press Step backward.");
      status.classList.toggle("mlpx-error", !!st.err);
      log.textContent = "";
      if (!st.err) {
        for (var s = 0; s < st.k; s++) {
          el("li", s === st.k - 1 ? { class: "mlpx-cur" } : {}, log, line(G.order[s]));
        }
      }
      fdNote.hidden = !st.fd || !!st.err;
      if (st.fd && !st.err) {
        var h = String(spec.h < 1e-3 ? spec.h.toExponential() : spec.h).replace("-", MINUS);
        fdNote.textContent = "f.d.: central difference (" + R + "(x + h) " + MINUS + " " + R +
          "(x " + MINUS + " h)) / 2h with h = " + h + ", beside each input's gradient.";
      }
      draw();
      root.dataset.step = String(st.k);
    }

    /* ---- drawing: left to right if it fits, else top to bottom (phones) ---- */
    var FONT = 14, LINE = 18, CHAR = 0.6 * FONT, GX = 20;  // px; GX: space between columns
    function lines(i) {
      var done = G.order.indexOf(i) < st.k, ok = !st.err;
      var out = [nodes[i].input || G.rule[i] ? (G.rule[i] ? nodes[i].name + " = " + title(i) : nodes[i].name)
        : nodes[i].name + " (const)",
        "data " + (ok ? fmt(st.v[i]) : "?"), "grad " + (ok && done ? fmt(st.g[i]) : "?")];
      if (st.fd) out.push(G.rule[i] || !ok ? "" : "f.d. " + fmt(st.fdv[i]));
      return out;
    }
    var lastWidth = 0;
    function draw() {
      var cs = getComputedStyle(root), L = nodes.map(function (_, i) { return lines(i); });
      var W = root.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) || 640;
      function longest(texts) { return Math.max.apply(null, texts.map(function (t) { return t.length; })); }
      function width(chars) { return Math.ceil((chars * CHAR + 12) / 4) * 4; }
      var xs = nodes.map(function (node) { return node.x; });
      var ys = nodes.map(function (node) { return node.y; });
      var cols = Math.max.apply(null, xs) + 1, y0 = Math.min.apply(null, ys);
      var y1 = Math.max.apply(null, ys), rows = y1 - y0 + 1, pad = 6;
      var bh = L[0].length * LINE + 12;
      function sizes(bw) {
        return {
          wide: { w: cols * bw + (cols - 1) * GX + 2 * pad, h: rows * bh + (rows - 1) * 20 + 2 * pad },
          tall: { w: rows * bw + (rows - 1) * 16 + 2 * pad, h: cols * bh + (cols - 1) * 34 + 2 * pad }
        };
      }
      // The orientation depends on the width available and the titles, not on the numbers shown,
      // so that it does not flip while the reader drags a slider; a long number widens the boxes.
      var nominal = sizes(width(Math.max(longest(L.map(function (ls) { return ls[0]; })), 12)));
      var horiz = Math.min(1, W / nominal.wide.w) >= Math.min(0.9, W / nominal.tall.w);  // shrinks least
      var bw = width(Math.max(Math.max.apply(null, L.map(longest)), 12));
      var size = sizes(bw)[horiz ? "wide" : "tall"];
      function at(i) {  // the centre of node i's box
        var c = nodes[i].x, r = y1 - nodes[i].y;
        return horiz ? [pad + bw / 2 + c * (bw + GX), pad + bh / 2 + r * (bh + 20)]
          : [pad + bw / 2 + r * (bw + 16), pad + bh / 2 + c * (bh + 34)];
      }
      svg.setAttribute("viewBox", "0 0 " + size.w + " " + size.h);
      svg.setAttribute("width", size.w);
      svg.setAttribute("height", size.h);
      svg.dataset.layout = horiz ? "horizontal" : "vertical";
      svg.textContent = "";
      var defs = el("svg:defs", {}, svg);
      ["", "h"].forEach(function (s) {
        var m = el("svg:marker", { id: uid + "-arrow" + s, viewBox: "0 0 10 10", refX: "9", refY: "5",
          markerUnits: "userSpaceOnUse", markerWidth: s ? "13" : "9", markerHeight: s ? "13" : "9",
          orient: "auto-start-reverse" }, defs);
        el("svg:path", { d: "M0,0 L10,5 L0,10 z", class: "mlpx-tip" + s }, m);
      });
      var cur = st.k ? G.order[st.k - 1] : -1;
      var edges = el("svg:g", { "aria-hidden": "true" }, svg);
      spec.edges.forEach(function (e) {
        var a = at(e[0]), b = at(e[1]), hot = e[0] === cur, d;
        if (horiz) {
          var xa = a[0] + bw / 2, xb = b[0] - bw / 2, m = (xa + xb) / 2;
          d = "M" + xa + "," + a[1] + " C" + m + "," + a[1] + " " + m + "," + b[1] + " " + xb + "," + b[1];
        } else {
          var ya = a[1] + bh / 2, yb = b[1] - bh / 2, n = (ya + yb) / 2;
          d = "M" + a[0] + "," + ya + " C" + a[0] + "," + n + " " + b[0] + "," + n + " " + b[0] + "," + yb;
        }
        var path = el("svg:path", { d: d, class: "mlpx-edge" + (hot ? " mlpx-hot" : "") }, edges);
        // the data flows forward; on the current step the gradient flows back to the node
        path.setAttribute(hot ? "marker-start" : "marker-end",
          "url(#" + uid + "-arrow" + (hot ? "h" : "") + ")");
      });
      nodes.forEach(function (node, i) {
        var c = at(i), ls = L[i], pos = G.order.indexOf(i);
        var kind = i === G.root ? "out" : G.rule[i] ? "op" : "leaf";
        var state = i === cur ? " mlpx-cur" : pos < st.k ? " mlpx-done" : "";
        var words = [ls[0] + ":", "data " + (st.err ? "not computed" : fmt(st.v[i])) + ",",
          pos < st.k && !st.err ? "gradient " + fmt(st.g[i]) : "gradient not computed yet"];
        if (st.fd && !G.rule[i] && !st.err) words.push(", finite-difference estimate " + fmt(st.fdv[i]));
        var g = el("svg:g", { class: "mlpx-node mlpx-" + kind + state, role: "img",
          "aria-label": words.join(" ").replace(/\u2212/g, "minus "),
          "data-id": i, "data-value": st.err ? "" : st.v[i],
          "data-grad": pos < st.k && !st.err ? st.g[i] : "",
          "data-fd": st.fd && !G.rule[i] && !st.err ? st.fdv[i] : "" }, svg);
        if (i === cur) g.setAttribute("aria-current", "step");
        el("svg:rect", { x: c[0] - bw / 2, y: c[1] - bh / 2, width: bw, height: bh, rx: 7 }, g);
        ls.forEach(function (s, j) {
          el("svg:text", { x: c[0] - bw / 2 + 6, y: c[1] - bh / 2 + 6 + LINE * (j + 0.75),
            class: j === 0 ? "mlpx-head" : j === 2 && pos >= st.k ? "mlpx-todo" : "" }, g, s);
        });
      });
      lastWidth = root.clientWidth;
    }
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (Math.abs(root.clientWidth - lastWidth) > 1) draw();
      }).observe(root);
    }

    update();
    var d = spec.nodes.map(function (node, i) {  // self-check: the script agrees with the engine
      return Math.abs(st.v[i] - node.value) > 1e-9 * Math.max(1, Math.abs(node.value)) ? node.name : null;
    }).filter(Boolean);
    if (d.length) {
      status.textContent = "Warning: the explorer's values differ from the engine's at " + d.join(", ") + ".";
      status.classList.add("mlpx-error");
      if (window.console) console.error("mlpbook explorer:", status.textContent);
    }
  }

  function mountAll() {
    var roots = document.querySelectorAll(".mlpx:not([data-mounted])");
    Array.prototype.forEach.call(roots, function (root) {
      try { mount(root); } catch (e) {
        root.dataset.mounted = "failed";
        el("p", { class: "mlpx-status mlpx-error" }, root, "The explorer failed: " + e.message);
        if (window.console) console.error("mlpbook explorer:", e);
      }
    });
  }

  window.mlpbookExplorer = { ops: Object.keys(RULES), compute: compute, mount: mount, mountAll: mountAll };
  mountAll();
})();
