// Maps whose rows have no coordinates (a filtered table, a dashboard filter): Leaflet
// throws "Bounds are not valid." and leaves a grey box. Show the whole world instead.
// Leaflet is loaded by the map plugins after this script and assigns window.L once.
(function () {
  "use strict";
  let leaflet;
  Object.defineProperty(window, "L", {
    configurable: true,
    get() {
      return leaflet;
    },
    set(value) {
      leaflet = value;
      if (!value || !value.Map || value.Map.prototype.trackerFitBounds) {
        return;
      }
      const fitBounds = value.Map.prototype.fitBounds;
      value.Map.prototype.trackerFitBounds = fitBounds;
      value.Map.prototype.fitBounds = function (bounds, options) {
        if (!value.latLngBounds(bounds).isValid()) {
          return this.setView([30, 20], 1);
        }
        return fitBounds.call(this, bounds, options);
      };
    },
  });
})();

// datasette-cluster-map shows in a marker's popup the row's `popup` column (a title, a
// link, a description), when the row has one, and otherwise every column of the row,
// those without a value as "null". A table's or a view's rows have no such column: each
// row the map fetches is given one here, which the plugin shows its own way. Its title is
// the row's title; its link, the page of its record (a row with a ULID id); its
// description, one line per field that says when, where, how and who, among those that
// have a value (a foreign key by its label, a JSON list as its items). A row with none of
// those fields (a query's) is described by each of its columns that has a value. A row
// that has a popup of its own keeps it.
(function () {
  "use strict";
  const FIELDS = ["date", "status", "format", "level", "mode", "city", "country", "chair",
                  "participants"];
  const TITLE = "title";
  const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
  // This script is served from <base>tracker-static/: the route is <base>-/record/.
  const route = new URL("../-/record/", document.currentScript.src).pathname;

  function shown(value) {
    if (value === null || value === undefined || value === "") {
      return null;
    }
    if (typeof value === "object") {  // a foreign key, with _labels=on
      return "label" in value ? shown(value.label ?? value.value) : JSON.stringify(value);
    }
    const text = String(value);
    if (text.startsWith("[")) {
      try {
        const items = JSON.parse(text);
        if (Array.isArray(items)) {
          return items.length > 0 ? items.join(", ") : null;
        }
      } catch (error) {
        // not a JSON list: the text as it is
      }
    }
    return text;
  }

  function popup(row) {
    const coordinates = [window.DATASETTE_CLUSTER_MAP_LATITUDE_COLUMN,
                         window.DATASETTE_CLUSTER_MAP_LONGITUDE_COLUMN];
    const described = FIELDS.some((field) => field in row) ? FIELDS : Object.keys(row).filter(
      (column) => ![TITLE, "id", "popup", ...coordinates].includes(column));
    const lines = [];
    for (const field of described) {
      const value = shown(row[field]);
      if (value !== null) {
        lines.push(`${field}: ${value}`);
      }
    }
    const result = {};
    const title = shown(row[TITLE]);
    if (title !== null) {
      result.title = title;
    }
    if (typeof row.id === "string" && ULID.test(row.id)) {
      result.link = route + encodeURIComponent(row.id);
    }
    result.description = lines.length > 0 ? lines.join("\n")
      : coordinates.map((column) => row[column]).join(", ");
    return result;
  }

  // The map's requests: the page's own JSON, as objects (the first page and the next ones).
  function forTheMap(url) {
    return window.DATASETTE_CLUSTER_MAP_LATITUDE_COLUMN !== undefined
      && url.origin === location.origin && url.pathname === location.pathname + ".json"
      && url.searchParams.get("_shape") === "objects";
  }

  const fetchPage = window.fetch;
  window.fetch = async (...args) => {
    const response = await fetchPage(...args);
    const url = new URL(args[0] instanceof Request ? args[0].url : String(args[0]),
                        location.href);
    if (!response.ok || !forTheMap(url)) {
      return response;
    }
    let data;
    try {
      data = await response.clone().json();
    } catch (error) {
      return response;  // not JSON: the map shows what it can
    }
    if (!Array.isArray(data.rows)) {
      return response;
    }
    data.rows = data.rows.map((row) => (row.popup ? row : {...row, popup: popup(row)}));
    return new Response(JSON.stringify(data), {
      status: response.status, statusText: response.statusText, headers: response.headers});
  };
})();
