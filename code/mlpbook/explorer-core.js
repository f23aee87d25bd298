/* mlpbook backprop explorer, part 2 of 4: the graph's arithmetic (no DOM).
 *
 * prepare() gives every node its rule and operands; forward() recomputes every value from the
 * leaves; backward() every gradient, in reverse topological order, as Value.backward() does;
 * compute() is what the tests call in Chromium to compare with the engine.
 */

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
    var operands = ins[i];  // the engine de-duplicates prev: x * x has the one input x
    if (!rule) {
      if (!node.local || node.local.length !== operands.length) {
        throw new Error("the explorer has no rule for the op " + JSON.stringify(op) +
          " and the engine passed no local derivatives for it");
      }
      rule = genericRule(op, node, operands.map(function (j) { return nodes[j].value; }),
        (spec.tables || {})[op]);
    }
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
    terms(G, v, g, i).forEach(function (t) {
      if (!isFinite(t.value)) {  // a generic rule outside its table
        var err = new DomainError("overflow: the gradient is not finite");
        err.node = i;
        throw err;
      }
      sum += t.value;
    });
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
