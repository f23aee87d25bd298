/* mlpbook backprop explorer, part 4 of 4: the widget (inputs, buttons, status, the steps' log).
 *
 * mount() reads the graph that mlpbook.explorer.explore(root) wrote as JSON into a
 * <div class="mlpx">, draws it, recomputes every value when an input changes and walks the
 * backward pass one node at a time, in reverse topological order.
 */
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
  // the graph in a view of its own: on a phone a box that fits the screen under the buttons,
  // scrolled to the current step's node (drawGraph); on a desktop the whole graph
  var view = el("div", { class: "mlpx-view", tabindex: "0", role: "group",
    "aria-label": "Graph view: scroll to see every node" }, root);
  var svg = el("svg:svg", { class: "mlpx-graph", role: "group", "aria-label":
    "Computational graph of " + R + ", inputs first" }, view);
  var log = el("ol", { class: "mlpx-log", "aria-label": "Backward steps so far" }, root);
  var fdNote = el("p", { class: "mlpx-fdnote", hidden: "" }, root);
  var live = el("p", { class: "mlpx-live", "aria-live": "polite" }, root);
  var w = { root: root, svg: svg, view: view, uid: uid, nodes: nodes, G: G, st: st, title: title,
    lastWidth: 0 };

  // aria-disabled, not disabled: a button that cannot act keeps its focus, looks disabled and
  // says why when pressed
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
    bStep.setAttribute("aria-disabled", String(!!st.err || st.k >= N));
    bAll.setAttribute("aria-disabled", String(!!st.err || st.k >= N));
    bReset.setAttribute("aria-disabled", String(st.k === 0));
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
    drawGraph(w);
    root.dataset.step = String(st.k);
  }
  if (window.ResizeObserver) {
    new ResizeObserver(function () {
      if (Math.abs(root.clientWidth - w.lastWidth) > 1) drawGraph(w);
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
