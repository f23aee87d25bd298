/* Computational graphs start at their output on a phone (docs/figures.md).
   A graph is drawn left (inputs) to right (output L); on a phone it is wider than the screen and
   scrolls sideways (reader.js keeps its text legible). Each graph's box starts scrolled to its
   right end, where the output node and the first steps of the backward pass are, until the
   reader scrolls it. Added by tools/sphinxext/figure_variants.py. */
(() => {
  "use strict";

  function start() {
    document.querySelectorAll("picture.mlpbook-graph").forEach((box) => {
      const img = box.querySelector("img");
      if (!img) return;
      let touched = false;
      for (const type of ["pointerdown", "touchstart", "wheel", "keydown"]) {
        box.addEventListener(type, () => { touched = true; }, { passive: true });
      }
      const toOutput = () => {
        if (!touched && box.scrollWidth > box.clientWidth + 1) {
          box.scrollLeft = box.scrollWidth;
        }
      };
      if ("ResizeObserver" in window) new ResizeObserver(toOutput).observe(img);
      if (img.complete) toOutput(); else img.addEventListener("load", toOutput, { once: true });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
