/* mlpbook backprop explorer, part 3 of 4: drawing the graph as SVG.
 *
 * drawGraph(w) draws widget w's graph (w: root, svg, view, uid, nodes, G, st, title) left to
 * right if it fits, else top to bottom (phones), each box with the node's name, data, grad and
 * (on request) finite difference; then it scrolls the graph's view to the current step's node.
 */
var FONT = 14, LINE = 18, CHAR = 0.6 * FONT, GX = 20;  // px; GX: space between columns

function nodeLines(w, i) {  // the text of node i's box
  var G = w.G, st = w.st, nodes = w.nodes;
  var done = G.order.indexOf(i) < st.k, ok = !st.err;
  var out = [nodes[i].input || G.rule[i] ? (G.rule[i] ? nodes[i].name + " = " + w.title(i) : nodes[i].name)
    : nodes[i].name + " (const)",
    "data " + (ok ? fmt(st.v[i]) : "?"), "grad " + (ok && done ? fmt(st.g[i]) : "?")];
  if (st.fd) out.push(G.rule[i] || !ok ? "" : "f.d. " + fmt(st.fdv[i]));
  return out;
}

function drawGraph(w) {
  var root = w.root, svg = w.svg, uid = w.uid, nodes = w.nodes, G = w.G, st = w.st, spec = G.spec;
  var cs = getComputedStyle(root), L = nodes.map(function (_, i) { return nodeLines(w, i); });
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
  w.lastWidth = root.clientWidth;
  showNode(w, cur >= 0 ? at(cur) : at(G.root), size.w);
}

/* Scroll the graph's view (a box of limited height on phones) so that the point c of the
 * drawing, the current step's node (at first: the output, where the backward pass starts), is in
 * the middle of it. The page itself never scrolls. */
function showNode(w, c, drawingWidth) {
  var view = w.view, scale = w.svg.getBoundingClientRect().width / drawingWidth;
  if (!scale || view.scrollHeight <= view.clientHeight + 1 && view.scrollWidth <= view.clientWidth + 1) return;
  view.scrollTop = Math.max(0, c[1] * scale - view.clientHeight / 2);
  view.scrollLeft = Math.max(0, c[0] * scale - view.clientWidth / 2);
}
