/* Starts a deck once its maths is typeset (when the page's maths renderer is MathJax), with
   the speaker view's block clock: "left in this block", counting down the block's minutes from
   the moment the speaker view opens (click it to restart). D toggles the dark theme. */
(function () {
  "use strict";
  var root = document.documentElement;
  var deck = document.querySelector(".reveal");
  var blockMinutes = Number(deck.dataset.minutes) || 0;
  // The site's code colours (pygments.css) follow data-theme, as on the site.
  function setDark(dark) {
    root.classList.toggle("dark", dark);
    root.dataset.theme = dark ? "dark" : "light";
  }
  setDark(new URLSearchParams(location.search).get("theme") === "dark");

  function toggleDark() { setDark(!root.classList.contains("dark")); }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function blockClock(win) {
    var doc = win.document;
    var host = doc.querySelector(".speaker-controls-time");
    if (!host || doc.querySelector(".block-clock")) return;
    var style = doc.createElement("style");
    style.textContent = ".block-clock{margin-bottom:10px;cursor:pointer}" +
      ".block-clock-value{font-size:2em;font-weight:bold}.block-clock.over .block-clock-value{color:#ff6b6b}";
    doc.head.appendChild(style);
    var box = doc.createElement("div");
    box.className = "block-clock";
    box.innerHTML = '<h4 class="label">Left in this block (' + deck.dataset.block + ", " +
      blockMinutes + ' min) <span class="reset-button">Click to restart</span></h4>' +
      '<div class="block-clock-value"></div>';
    host.insertBefore(box, host.firstChild);
    var value = box.querySelector(".block-clock-value");
    var start = Date.now();
    function tick() {
      var left = Math.round((blockMinutes * 60000 - (Date.now() - start)) / 1000);
      var sign = left < 0 ? "-" : "";
      left = Math.abs(left);
      value.textContent = sign + Math.floor(left / 60) + ":" + two(left % 60);
      box.classList.toggle("over", sign === "-");
    }
    box.addEventListener("click", function (event) { event.stopPropagation(); start = Date.now(); tick(); });
    tick();
    win.setInterval(tick, 1000);
  }

  // The notes plugin writes its speaker view into the window it opens: add the clock to it.
  var nativeOpen = window.open;
  window.open = function (url, name, features) {
    var win = nativeOpen.call(window, url, name, features);
    if (win && name === "reveal.js - Notes") setTimeout(function () { blockClock(win); }, 0);
    return win;
  };

  // A display formula wider than the slide is set smaller until it fits (not below 60 % of its
  // size), a code block too (not below 18 px). Measured again once the fonts have come: KaTeX's
  // own fonts are wider than the fallback a formula is first laid out in, and a formula fitted
  // before they came was cut off at the slide's edge.
  function fit(el, floor) {
    if (!el.clientWidth) return;
    if (!el.dataset.size) el.dataset.size = parseFloat(getComputedStyle(el).fontSize);
    var least = floor(parseFloat(el.dataset.size));
    for (var i = 0; i < 4 && el.scrollWidth > el.clientWidth + 1; i++) {
      var size = parseFloat(getComputedStyle(el).fontSize);
      var target = Math.max(size * (el.clientWidth / el.scrollWidth) * 0.97, least);
      if (target >= size) break;
      el.style.fontSize = target + "px";
    }
  }

  function fitMaths(section) {
    if (!section) return;
    section.querySelectorAll("div.math, .katex-display").forEach(function (el) {
      fit(el, function (size) { return size * 0.6; });
    });
    section.querySelectorAll(".slide-code .highlight").forEach(function (el) {
      fit(el, function () { return 18; });
    });
  }

  function start() {
    Reveal.initialize({
      width: 1280, height: 720, margin: 0, center: false, hash: true, display: "flex",
      transition: "none", backgroundTransition: "none", slideNumber: "c/t",
      pdfSeparateFragments: false, pdfMaxPagesPerSlide: 1,
      totalTime: blockMinutes * 60, keyboard: { 68: toggleDark },
      plugins: [RevealNotes]
    });
    Reveal.on("ready", function () {
      if (Reveal.isPrintView()) document.querySelectorAll(".reveal .slides section").forEach(fitMaths);
      else fitMaths(Reveal.getCurrentSlide());
    });
    Reveal.on("slidechanged", function (event) { fitMaths(event.currentSlide); });
    document.fonts.ready.then(function () {
      if (Reveal.isPrintView()) document.querySelectorAll(".reveal .slides section").forEach(fitMaths);
      else fitMaths(Reveal.getCurrentSlide());
    });
    document.fonts.addEventListener("loadingdone", function () { fitMaths(Reveal.getCurrentSlide()); });
  }

  window.addEventListener("load", function () {
    var mj = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
    (mj || Promise.resolve()).then(start, start);
  });
})();
