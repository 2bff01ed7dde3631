// Ids of records and events are plain text in views and query results (Datasette links
// only a table's keys): link each to /-/record/ID, which opens the record's page. A
// cell links when it is plain text in a column that names records: a ULID in id,
// subject, meeting_id or event_id; a format's slug in format or subject (a format's
// record id is its slug), or in the id of a format's row (kind format or launch). A
// cell's column is its col- class, or else its table's header (the search page's
// results, which come after the page has loaded). The search page shows a key to another
// table as that record's title (its label): the id is read from the JSON the page
// fetched, row by row, and the title links to it.
(function () {
  "use strict";
  const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
  const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;
  const ID_COLUMNS = ["id", "subject", "meeting_id", "event_id"];
  const SLUG_COLUMNS = ["format", "subject", "slug"];
  const FORMAT_KINDS = ["format", "launch"];
  const CELLS = "table.rows-and-columns td";
  // This script is served from <base>tracker-static/: the route is <base>-/record/.
  const route = new URL("../-/record/", document.currentScript.src).pathname;

  function column(cell) {
    for (const name of cell.classList) {
      if (name.startsWith("col-")) {
        return name.slice(4);
      }
    }
    const header = cell.closest("table").querySelector("tr").children[cell.cellIndex];
    return header && header.tagName === "TH" ? header.textContent.trim() : null;
  }

  function kind(cell) {
    const other = Array.from(cell.parentElement.children).find(
      (sibling) => sibling !== cell && column(sibling) === "kind");
    return other ? other.textContent.trim() : null;
  }

  function namesARecord(cell, name, value) {
    if (ID_COLUMNS.includes(name) && ULID.test(value)) {
      return true;
    }
    const slug = SLUG_COLUMNS.includes(name)
      || (name === "id" && FORMAT_KINDS.includes(kind(cell)));
    return slug && value.length <= 64 && SLUG.test(value);
  }

  // The search page's results, by table: the rows of the JSON it fetched, in order.
  const fetched = new Map();

  function labelled(cell, name) {
    const table = cell.closest("table");
    const heading = table.parentElement.parentElement.querySelector("h2 a");
    const rows = heading && fetched.get(new URL(heading.href).pathname);
    const row = rows && rows[cell.parentElement.rowIndex - 1];
    const value = row && row[name];
    return value && typeof value === "object" && "label" in value ? String(value.value) : null;
  }

  function link(cells) {
    for (const cell of cells) {
      const name = column(cell);
      if (name === null || cell.children.length > 0) {
        continue;
      }
      const text = cell.textContent.trim();
      // (a label only on the search page: other pages fetch no results)
      const value = (fetched.size > 0 && labelled(cell, name)) || text;
      if (!namesARecord(cell, name, value)) {
        continue;
      }
      const anchor = document.createElement("a");
      anchor.href = route + encodeURIComponent(value);
      anchor.textContent = text;
      cell.replaceChildren(anchor);
    }
  }

  function keepSearchResults() {
    const fetchPage = window.fetch;
    window.fetch = async (...args) => {
      const response = await fetchPage(...args);
      const url = new URL(String(args[0]), location.href);
      if (url.searchParams.has("_search") && response.ok) {
        try {
          const data = await response.clone().json();
          fetched.set(url.pathname.replace(/\.json$/, ""), data.rows || []);
        } catch (error) {
          // not JSON: the page shows what it can
        }
      }
      return response;
    };
  }

  if (location.pathname.endsWith("/-/search")) {
    keepSearchResults();  // before the search page's script fetches
  }

  function start() {
    link(document.querySelectorAll(CELLS));
    new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) {
          if (node.nodeType === Node.ELEMENT_NODE) {
            link(node.querySelectorAll(CELLS));
          }
        }
      }
    }).observe(document.body, {childList: true, subtree: true});
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
