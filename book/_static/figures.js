/* Computational graphs start at their output on a phone (docs/figures.md).
   A graph is drawn left (inputs) to right (output L); on a phone it is wider than the screen and
   scrolls sideways (reader.js keeps its text legible). Each graph's box starts scrolled to its
   right end, where the output node and the first steps of the backward pass are, until the
   reader scrolls it (set when the browser first renders its section). Added by tools/sphinxext/figure_variants.py. */
(() => {
  "use strict";

  // A box is measured only when the browser renders its section: measuring it at load would lay
  // out its section, which the browser skips while it is far from the screen (custom.css,
  // reader.js). The browser says when it starts rendering a section
  // (contentvisibilityautostatechange); where it cannot, every box is followed at load.
  const SECTIONS = "article.bd-article > section > section";
  const LAZY = "ContentVisibilityAutoStateChangeEvent" in window;
  const followed = new WeakSet();

  function followIn(root) {
    root.querySelectorAll("picture.mlpbook-graph").forEach((box) => {
      if (!followed.has(box)) {
        followed.add(box);
        follow(box);
      }
    });
  }

  if (LAZY) {
    document.addEventListener("contentvisibilityautostatechange", (event) => {
      if (!event.skipped && event.target.matches && event.target.matches(SECTIONS)) {
        followIn(event.target);
      }
    });
  }

  function start() {
    document.querySelectorAll("picture.mlpbook-graph").forEach((box) => {
      if (!LAZY || !box.closest(SECTIONS)) followIn(box.parentElement);
    });
    // Sections the browser may have reported on before this script listened (a browser may
    // paint a page before its deferred scripts run): each one rendered, at the start and at load.
    const catchUp = () => {
      if (!LAZY) return;
      for (const section of document.querySelectorAll(SECTIONS)) {
        const first = section.firstElementChild;
        if (first && first.checkVisibility({ contentVisibilityAuto: true })) followIn(section);
      }
    };
    catchUp();
    window.addEventListener("load", catchUp);
  }

  function follow(box) {
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
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
