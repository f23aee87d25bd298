// KaTeX at build time: one JSON request per line on stdin ({"tex": "...", "display": true}),
// one JSON answer per line on stdout ({"html": "..."} or {"error": "..."}).
// Started once per Sphinx process by tools/sphinxext/katex_math/__init__.py; katex comes from the
// repository's node_modules (package.json, installed by `make venv` with `npm ci`).
"use strict";
const katex = require("katex");
const readline = require("readline");

const lines = readline.createInterface({ input: process.stdin, terminal: false });
lines.on("line", (line) => {
  let answer;
  try {
    const { tex, display } = JSON.parse(line);
    answer = {
      html: katex.renderToString(tex, {
        displayMode: !!display,
        output: "htmlAndMathml",  // MathML for screen readers, HTML for the eye
        throwOnError: true,       // a formula KaTeX cannot typeset fails the build
        strict: "error",
        trust: false,
      }),
    };
  } catch (err) {
    answer = { error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
