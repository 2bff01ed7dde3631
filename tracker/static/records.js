// Ids of records and events are plain text in views and query results (Datasette links
// only a table's keys): link each to /-/record/ID, which opens the record's page. A
// cell links when it is plain text in a column that names records: a ULID in id,
// subject, meeting_id or event_id; a format's slug in format, or in the id of a
// format's row (kind format or launch).
(function () {
  "use strict";
  const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
  const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;
  const ID_COLUMNS = ["id", "subject", "meeting_id", "event_id"];
  const FORMAT_KINDS = ["format", "launch"];
  // This script is served from <base>tracker-static/: the route is <base>-/record/.
  const route = new URL("../-/record/", document.currentScript.src).pathname;

  function column(cell) {
    for (const name of cell.classList) {
      if (name.startsWith("col-")) {
        return name.slice(4);
      }
    }
    return null;
  }

  function kind(cell) {
    const other = cell.parentElement.querySelector("td.col-kind");
    return other ? other.textContent.trim() : null;
  }

  function namesARecord(cell, name, value) {
    if (ID_COLUMNS.includes(name) && ULID.test(value)) {
      return true;
    }
    const slug = name === "format" || (name === "id" && FORMAT_KINDS.includes(kind(cell)));
    return slug && value.length <= 64 && SLUG.test(value);
  }

  function link() {
    for (const cell of document.querySelectorAll("table.rows-and-columns td")) {
      const name = column(cell);
      const value = cell.textContent.trim();
      if (name === null || cell.children.length > 0 || !namesARecord(cell, name, value)) {
        continue;
      }
      const anchor = document.createElement("a");
      anchor.href = route + encodeURIComponent(value);
      anchor.textContent = value;
      cell.replaceChildren(anchor);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", link);
  } else {
    link();
  }
})();
