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
