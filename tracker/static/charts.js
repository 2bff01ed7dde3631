// A dashboard chart as tall as its card ("height": "container" in its Vega-Lite spec)
// takes the height its card has when it is drawn, and Vega measures it again only when
// the window is resized. Its card's height is set by the charts beside it, which are
// drawn later, as their data comes: when the chart's box changes size, tell Vega as a
// resize of the window would. Only charts whose drawing does not size their box are
// followed (site.css gives them `contain: size`): for another, each drawing, a little
// taller than its box, would make its card taller, and the next one again.
(function () {
  "use strict";

  function sizedByItsCard(chart) {
    const contain = getComputedStyle(chart).contain;
    return contain === "strict" || contain.split(" ").includes("size");
  }

  function start() {
    const charts = Array.from(document.querySelectorAll(".dashboard-card-chart"))
      .filter(sizedByItsCard);
    if (charts.length === 0 || typeof ResizeObserver === "undefined") {
      return;
    }
    const sizes = new Map();
    let pending = false;
    const observer = new ResizeObserver((entries) => {
      let changed = false;
      for (const entry of entries) {  // each chart's first entry is its size when observed
        const size = `${entry.contentRect.width}x${entry.contentRect.height}`;
        changed = changed || (sizes.has(entry.target) && sizes.get(entry.target) !== size);
        sizes.set(entry.target, size);
      }
      if (changed && !pending) {
        pending = true;
        requestAnimationFrame(() => {
          pending = false;
          window.dispatchEvent(new Event("resize"));
        });
      }
    });
    charts.forEach((chart) => observer.observe(chart));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
