// Names for what the templates of Datasette 0.65 and its plugins leave unnamed, for a
// screen reader and for voice control: the page's language, the search boxes (a
// placeholder is no name), the fields of a table's filters and its sort, the dashboard's
// filters (by their legends), and the "..." menu of each chart (drawn later, as its data
// comes). A field that has a name keeps it.
(function () {
  "use strict";

  const NAMES = [
    ["#search-all-q, form[action$='/-/search'] input[name='q']", "Search all"],
    ["input[name='_search']", "Search this table"],
    ["select[name^='_filter_column']", "Filter: column"],
    ["select[name^='_filter_op']", "Filter: comparison"],
    ["input[name^='_filter_value']", "Filter: value"],
    ["select[name='_sort']", "Sort by"],
    ["details > summary:empty, .vega-embed details > summary", "Chart actions"],
  ];

  function unnamed(element) {
    return !element.getAttribute("aria-label") && !element.getAttribute("aria-labelledby")
      && !(element.labels && element.labels.length);
  }

  function name(root) {
    // A field alone in a fieldset (the dashboard's filters) is named by its legend.
    for (const legend of root.querySelectorAll("fieldset > legend")) {
      const fields = legend.parentElement.querySelectorAll("select, input:not([type=hidden])");
      if (fields.length === 1 && unnamed(fields[0]) && legend.textContent.trim()) {
        fields[0].setAttribute("aria-label", legend.textContent.trim());
      }
    }
    for (const [selector, label] of NAMES) {
      for (const element of root.querySelectorAll(selector)) {
        if (unnamed(element)) {
          element.setAttribute("aria-label", label);
        }
      }
    }
  }

  function start() {
    if (!document.documentElement.lang) {
      document.documentElement.lang = "en";
    }
    name(document);
    if (typeof MutationObserver !== "undefined") {  // charts and their menus come later
      let pending = false;
      new MutationObserver(() => {
        if (!pending) {
          pending = true;
          requestAnimationFrame(() => { pending = false; name(document); });
        }
      }).observe(document.body, { childList: true, subtree: true });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
