/* mlpbook backprop explorer, part 1 of 4: number formatting and the local rules.
 *
 * RULES holds, for each op of mlpbook/engine.py that has a rule here, its forward value and its
 * local backward rule, written to do the same float arithmetic in the same order as the engine's
 * _backward closures (the tests compare with the engine to 1e-12). mlpbook/explorer.py reads the
 * keys of the RULES["..."] lines below: an engine op without one is drawn by genericRule() from
 * the values and local derivatives the engine computed, so a new op needs no JavaScript.
 */
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
var RULES = {};
RULES["+"] = {
  arity: 2, prec: 1,
  value: function (x) { return x[0] + x[1]; },
  title: function (n) { return n[0] + " + " + n[1]; },
  terms: function (o) { return [o.g, "1", "1"]; }
};
RULES["*"] = {
  arity: 2, prec: 2,
  value: function (x) { return x[0] * x[1]; },
  title: function (n) { return n[0] + "\u00b7" + n[1]; },
  terms: function (o, k) {  // self.grad += other.data * out.grad, and the other way round
    return [o.x[1 - k] * o.g, paren(o.n[1 - k]), fmtP(o.x[1 - k])];
  }
};
RULES["**"] = {
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
};
RULES["neg"] = {
  arity: 1, prec: 3,
  value: function (x) { return -x[0]; },
  title: function (n) { return MINUS + n[0]; },
  terms: function (o) { return [-o.g, "(" + MINUS + "1)", "(" + MINUS + "1)"]; }  // grad -= out.grad
};
RULES["exp"] = {
  arity: 1, prec: 9,
  value: function (x) { return Math.exp(x[0]); },
  title: function (n) { return "exp(" + n[0] + ")"; },
  terms: function (o) { return [o.v * o.g, o.out, fmtP(o.v)]; }  // out.data * out.grad
};
RULES["log"] = {
  arity: 1, prec: 9,
  value: function (x) {
    if (x[0] <= 0) throw new DomainError("log needs a positive value");
    return Math.log(x[0]);
  },
  title: function (n) { return "log(" + n[0] + ")"; },
  terms: function (o) { return [o.g / o.x[0], "1/" + paren(o.n[0]), "1/" + fmtP(o.x[0])]; }
};
RULES["tanh"] = {
  arity: 1, prec: 9,
  value: function (x) { return Math.tanh(x[0]); },
  title: function (n) { return "tanh(" + n[0] + ")"; },
  terms: function (o) {  // (1 - t**2) * out.grad
    return [(1 - o.v * o.v) * o.g, "(1 " + MINUS + " " + paren(o.out) + "\u00b2)",
      "(1 " + MINUS + " " + fmtP(o.v) + "\u00b2)"];
  }
};
RULES["sigmoid"] = {
  arity: 1, prec: 9,
  value: function (x) {  // the engine's overflow-free form
    return x[0] >= 0 ? 1 / (1 + Math.exp(-x[0])) : Math.exp(x[0]) / (1 + Math.exp(x[0]));
  },
  title: function (n) { return "\u03c3(" + n[0] + ")"; },
  terms: function (o) {  // s * (1 - s) * out.grad
    return [o.v * (1 - o.v) * o.g, paren(o.out) + "\u00b7(1 " + MINUS + " " + paren(o.out) + ")",
      fmtP(o.v) + "\u00b7(1 " + MINUS + " " + fmtP(o.v) + ")"];
  }
};
RULES["relu"] = {
  arity: 1, prec: 9,
  value: function (x) { return Math.max(0, x[0]); },
  title: function (n) { return "relu(" + n[0] + ")"; },
  terms: function (o) {  // (self.data > 0) * out.grad
    var on = o.x[0] > 0 ? 1 : 0;
    return [on * o.g, "[" + o.n[0] + " > 0]", String(on)];
  }
};

/* Cubic Hermite interpolation in a table of f and f' on an even grid (lo, step): exact at the
 * grid points, error O(step^4) between them. null marks a point outside the op's domain. */
function hermite(lo, step, f, d, x) {
  var i = Math.min(Math.max(Math.floor((x - lo) / step), 0), f.length - 2), t = (x - lo) / step - i;
  if (t < -1e-9 || t > 1 + 1e-9 || f[i] === null || f[i + 1] === null) return null;
  var t2 = t * t, t3 = t2 * t;
  return (2 * t3 - 3 * t2 + 1) * f[i] + (t3 - 2 * t2 + t) * step * d[i]
    + (3 * t2 - 2 * t3) * f[i + 1] + (t3 - t2) * step * d[i + 1];
}

/* The rule of node `node` whose op has no rule above: the engine's own numbers. At the inputs the
 * page computed it with, its value and local derivatives (node.local) are the engine's; elsewhere,
 * a unary op is interpolated in the table the engine computed for it (spec.tables[op]: values,
 * derivatives and second derivatives on a grid), and any other op says that it cannot be shown. */
function genericRule(op, node, at, table) {
  function same(x) { return x.every(function (v, j) { return v === at[j]; }); }
  function look(x, which) {
    var y = table && x.length === 1 ? (which ? hermite(table.lo, table.step, table.d, table.d2, x[0])
      : hermite(table.lo, table.step, table.f, table.d, x[0])) : null;
    if (y === null) {
      throw new DomainError(table ? op + " at " + short(x[0]) + " is outside the range the engine " +
        "tabulated (" + short(table.lo) + " to " + short(table.lo + table.step * (table.f.length - 1)) + ")"
        : "the explorer shows " + op + " only at the inputs the page set");
    }
    return y;
  }
  return {
    arity: at.length, prec: 9, generic: true,
    value: function (x) { return same(x) ? node.value : look(x, 0); },
    title: function (n) { return op + "(" + n.join(", ") + ")"; },
    terms: function (o, k) {  // d(out)/d(operand k) * out.grad, as the engine's _backward adds it
      var d = same(o.x) ? node.local[k] : look(o.x, 1);
      var sym = at.length === 1 ? op + "\u2032(" + o.n[0] + ")" : "\u2202" + o.out + "/\u2202" + o.n[k];
      return [d * o.g, sym, fmtP(d)];
    }
  };
}
