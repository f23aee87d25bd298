/* Reading on any screen: sidebar toggles and drawers that work, and a visible cue on everything that scrolls
   sideways. Registered in _config.yml (sphinx.config.html_js_files); checked by
   tests/test_browser.py at 360 and 390 px (touch) and at desktop width. */
(() => {
  "use strict";

  /* 1. Sidebar toggles (pydata-sphinx-theme issue #2451).
     pydata-sphinx-theme 0.17.1 binds its drawer handler, and sphinx-book-theme 1.3.0 its
     collapse-on-desktop handler, to document.querySelector(".primary-toggle") (and
     ".secondary-toggle"): the first such button in the page, which is the one in the hidden top
     navbar (#pst-header). The buttons a reader sees, in the article header, get no listener, so
     tapping them does nothing on a phone and clicking them does nothing on desktop.
     sphinx-book-theme 1.3.0 is the newest release that runs on Sphinx 7 (1.4.0 needs Sphinx >= 8.2,
     and jupyter-book 1.0.4 requires sphinx~=7.0), and it pins pydata-sphinx-theme==0.17.1, so no
     theme upgrade fixes this. Each visible toggle forwards its click to the button the theme
     listens to; a capture listener with stopImmediatePropagation keeps a future theme that binds
     every button from toggling twice. Delete this block once the theme has the fix. */
  function forwardSidebarToggles() {
    for (const [cls, controls] of [["primary-toggle", "pst-primary-sidebar"],
                                   ["secondary-toggle", "pst-secondary-sidebar"]]) {
      const [bound, ...visible] = document.querySelectorAll(`button.${cls}`);
      if (!bound) continue;
      for (const button of visible) {
        button.setAttribute("aria-controls", controls);
        if (!button.hasAttribute("aria-label")) {
          button.setAttribute("aria-label", cls === "primary-toggle" ? "Site navigation"
                                                                     : "On this page");
        }
        button.addEventListener("click", (event) => {
          event.preventDefault();
          event.stopImmediatePropagation();
          bound.click();
          syncExpanded();
        }, { capture: true });
      }
    }
    for (const id of ["pst-primary-sidebar-modal", "pst-secondary-sidebar-modal"]) {
      const dialog = document.getElementById(id);
      if (dialog) dialog.addEventListener("close", syncExpanded);
    }
    window.addEventListener("resize", syncExpanded);
    syncExpanded();
  }

  /* The drawers close with Escape every time, and a drawer opened again at once keeps its contents.
     pydata-sphinx-theme 0.17.1 moves the sidebar into the drawer (a modal <dialog>) when it opens
     and back out in the dialog's "close" event, which the browser dispatches in a later task. A
     drawer opened again before that task runs (a quick tap outside then on the button, or a page
     under load) was emptied while open by the stale event, and focus left it; the theme's Escape
     handler listens on the dialog only, and Sphinx's own Escape handler on the document cancels
     the browser's default, so Escape no longer closed it (tests/test_browser.py found this at
     360/390 px, intermittently). Here a stale "close" (the dialog is open again) stops before it
     reaches the theme, and Escape closes an open drawer wherever the focus is. */
  const DRAWERS = ["pst-primary-sidebar-modal", "pst-secondary-sidebar-modal"];

  function keepDrawersOperable() {
    window.addEventListener("close", (event) => {
      if (DRAWERS.includes(event.target.id) && event.target.open) event.stopImmediatePropagation();
    }, true);
    window.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      const open = DRAWERS.map((id) => document.getElementById(id)).find((d) => d && d.open);
      if (!open) return;
      event.preventDefault();
      event.stopPropagation();
      open.close();
    }, true);
  }

  /* aria-expanded on the visible toggles: open drawer (phone) or shown sidebar (desktop). */
  function syncExpanded() {
    const primary = document.getElementById("pst-primary-sidebar");
    const primaryDialog = document.getElementById("pst-primary-sidebar-modal");
    const secondaryDialog = document.getElementById("pst-secondary-sidebar-modal");
    const wide = window.matchMedia("(min-width: 992px)").matches;
    document.querySelectorAll(".bd-header-article button.primary-toggle").forEach((b) => {
      const shown = primaryDialog && primaryDialog.open
        || (wide && primary && !primary.classList.contains("pst-sidebar-hidden"));
      b.setAttribute("aria-expanded", shown ? "true" : "false");
    });
    document.querySelectorAll(".bd-header-article button.secondary-toggle").forEach((b) => {
      b.setAttribute("aria-expanded", secondaryDialog && secondaryDialog.open ? "true" : "false");
    });
  }

  /* 2. Horizontal scrollers with a visible cue.
     Wide display maths, tables, code and outputs scroll inside their own box (custom.css). A box
     with more content to one side fades out on that side (classes scroll-more-left/-right, a CSS
     mask), and a tab stop so that keyboard users can scroll it. */
  const SCROLLERS = [
    "article div.math > .katex-display",
    "article span.math > .katex",
    "article .pst-scrollable-table-container",
    "article .table-wrapper",
    "article pre",
    "article .cell_output > .output",
    "article .figure-scroll",
  ].join(", ");

  /* All boxes are measured first, then marked: measuring after each mark would force a layout
     of the whole page per box (seconds of blocking time on a maths page on a phone). */
  function markScrollers(els) {
    const found = els.map((el) => {
      const overflow = el.scrollWidth - el.clientWidth > 1;
      const tall = el.scrollHeight > el.clientHeight  // an output with a maximum height
        && /auto|scroll/.test(getComputedStyle(el).overflowY);
      return [el, overflow, overflow && el.scrollLeft > 1,
              overflow && el.scrollLeft + el.clientWidth < el.scrollWidth - 1,
              el.scrollWidth > el.clientWidth || tall];
    });
    for (const [el, overflow, left, right, scrolls] of found) {
      el.classList.toggle("scroll-more-left", left);
      el.classList.toggle("scroll-more-right", right);
      el.classList.toggle("scrolls-x", overflow);
      // a box that scrolls at all (a formula may overhang its box by a pixel) is a tab stop; one
      // that no longer scrolls (a wider window) loses the tab stop given here
      if (scrolls && el.tabIndex < 0) {
        el.setAttribute("tabindex", "0");
        el.dataset.readerTabStop = "";
      } else if (!scrolls && "readerTabStop" in el.dataset) {
        el.removeAttribute("tabindex");
        delete el.dataset.readerTabStop;
      }
    }
  }

  function markScroller(el) {
    markScrollers([el]);
  }

  /* Only boxes the browser renders are measured. custom.css gives each section of the article
     `content-visibility: auto`, so the browser lays out only the sections near the screen;
     reading the size of a box elsewhere would lay out its section at once (measuring every box
     at load laid out whole maths pages: most of a second of blocking time on a phone). The
     browser says when it starts and stops rendering a section (contentvisibilityautostatechange,
     at the first rendering too); a section's boxes are measured and watched for resizes when it
     starts. (Not an IntersectionObserver: Chromium kept its old geometry for boxes below a
     section that changed size, and a box far down a page was never reported near.) Where the
     browser has no such event, every box is measured at load. This replaces the theme's own
     tab-stop pass, which measured every box on every change (lean_pages/theme_js.py). */
  const SECTIONS = "article.bd-article > section > section";
  const LAZY = "ContentVisibilityAutoStateChangeEvent" in window;
  const rendered = new WeakSet();  // sections the browser renders now
  const watched = new WeakSet();
  const near = new Set();  // watched boxes in rendered sections (or in no section)
  const sized = new WeakSet();  // boxes whose size is observed
  const owner = new WeakMap();  // observed content element -> its scroller
  const resizeObserver = "ResizeObserver" in window ? new ResizeObserver((entries) => markScrollers(
    [...new Set(entries.map((e) => owner.get(e.target) || e.target))])) : null;
  const figureObserver = "ResizeObserver" in window ? new ResizeObserver((entries) => fitFigures(
    entries.map((e) => e.target.querySelector("img")))) : null;

  function isRendered(el) {
    const section = LAZY && el.closest(SECTIONS);
    return !section || rendered.has(section);
  }

  function sectionShown(section, shown) {
    const boxes = [...section.querySelectorAll(SCROLLERS)].filter((el) => watched.has(el));
    if (!shown) {
      rendered.delete(section);
      boxes.forEach((el) => near.delete(el));
      return;
    }
    rendered.add(section);
    boxes.forEach((el) => { near.add(el); observeSize(el); });
    const figures = boxes.filter((el) => el.classList.contains("figure-scroll"))
      .map((el) => el.querySelector("img"));
    if (figures.length) fitFigures(figures);  // (it marks their boxes too)
    markScrollers(boxes);
  }

  if (LAZY) {
    document.addEventListener("contentvisibilityautostatechange", (event) => {
      if (event.target.matches && event.target.matches(SECTIONS)) {
        sectionShown(event.target, !event.skipped);
      }
    });
  }

  /* Sections the browser may have reported on before this script listened (a browser may paint
     a page before its deferred scripts run): every section not yet seen as rendered is checked,
     at the start and at load, whatever the browser reported on other sections. */
  function catchUp() {
    if (!LAZY) return;
    for (const section of document.querySelectorAll(SECTIONS)) {
      if (rendered.has(section)) continue;
      const first = section.firstElementChild;
      if (first && first.checkVisibility({ contentVisibilityAuto: true })) sectionShown(section, true);
    }
  }

  function observeSize(el) {
    if (sized.has(el) || !resizeObserver) return;
    sized.add(el);
    resizeObserver.observe(el);
    // its content may grow while the box keeps its size (a formula: once its fonts are in)
    const content = el.querySelector(":scope > .katex > .katex-html, :scope > .katex-html")
      || el.firstElementChild;
    if (content) {
      owner.set(content, el);
      resizeObserver.observe(content);
    }
    if (el.classList.contains("figure-scroll")) figureObserver.observe(el);
  }

  function watchScrollers() {
    for (const el of document.querySelectorAll(SCROLLERS)) {
      if (watched.has(el)) continue;
      watched.add(el);
      el.addEventListener("scroll", () => markScroller(el), { passive: true });
      if (isRendered(el)) {
        near.add(el);
        observeSize(el);
      }
    }
    markScrollers([...near].filter((el) => el.isConnected));
  }

  /* 3. Figures keep legible text on a phone. A figure is never shown below MIN_SCALE of its
     size (the book's 11 pt figure text stays >= 7 px), and a figure wider than the book's
     standard 6.4-inch one (a computational graph) never below WIDE_MIN_SCALE; where that is
     wider than the column (a figure inside an answer box, a graph on a phone), it scrolls
     sideways in a .figure-scroll box instead of shrinking. On a desktop nothing changes.
     A figure is fitted when its box comes near the screen (above) and when it loads. */
  const WIDE_FIGURE_PX = 700;   // intrinsic width above which a figure is "wide"
  const MIN_SCALE = 0.5;
  const WIDE_MIN_SCALE = 0.7;

  /* Measured in one pass, then set: one layout for all figures, not one per figure. */
  function fitFigures(imgs) {
    const plan = [];
    for (const img of imgs) {
      const natural = img && img.naturalWidth;
      if (!natural) continue;
      const scale = natural > WIDE_FIGURE_PX ? WIDE_MIN_SCALE : MIN_SCALE;
      const minWidth = Math.round(natural * scale);
      // only when it matters: no 1-2 px scrolling for a figure that nearly fits
      plan.push([img, img.parentElement.clientWidth < minWidth - 2 ? `${minWidth}px` : ""]);
    }
    for (const [img, minWidth] of plan) {
      if (img.style.minWidth !== minWidth) img.style.minWidth = minWidth;
    }
    markScrollers(plan.map(([img]) => img.parentElement));
  }

  function keepFiguresLegible() {
    const imgs = [...document.querySelectorAll("article .cell_output img, article figure img")];
    for (const img of imgs) {
      if (!img.parentElement.classList.contains("figure-scroll")) {
        const box = document.createElement("div");
        box.className = "figure-scroll";
        img.replaceWith(box);
        box.appendChild(img);
      }
      // A lazy image loads when it comes near the screen: it is fitted then, even if its
      // section has left the screen since (a reader scrolling fast; measuring lays out that
      // one section). Its box's size observer does not report in a section that is skipped.
      if (!img.complete) img.addEventListener("load", () => fitFigures([img]), { once: true });
    }
    if (!figureObserver) fitFigures(imgs.filter((img) => img.complete));
    watchScrollers();
  }

  function start() {
    keepDrawersOperable();
    forwardSidebarToggles();
    keepFiguresLegible();
    catchUp();
    window.addEventListener("load", () => { catchUp(); watchScrollers(); });  // fonts, images in
    // A font that arrives later (one first needed by a section rendered after load) changes how
    // wide a line of code is while its box keeps its size: the boxes near the screen again.
    if (document.fonts) document.fonts.addEventListener("loadingdone", watchScrollers);
    // Content revealed later (answers, hidden cells) is measured when it opens.
    document.addEventListener("toggle", watchScrollers, true);
    // <html data-reader-pending> while that is scheduled: the tests wait for it to go.
    let pending = 0;
    document.addEventListener("click", () => {
      pending += 1;
      document.documentElement.dataset.readerPending = "";
      setTimeout(() => {
        watchScrollers();
        pending -= 1;
        if (!pending) delete document.documentElement.dataset.readerPending;
      }, 50);
    }, true);
  }

  // Deferred (tools/sphinxext/lean_pages), it still starts after the theme's own deferred scripts.
  if (document.readyState === "loading"
      || (document.currentScript && document.currentScript.defer)) {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
