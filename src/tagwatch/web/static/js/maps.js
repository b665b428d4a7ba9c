// Map making shared by every screen: the base layer (tiles if configured, else an offline
// world outline from the world-atlas npm package) and zones drawn by kind.
/* global L, topojson */
import { el } from "./format.js";

let config = { tile_url: null, tile_attribution: "" };
let outline = null; // the offline base layer's GeoJSON, loaded once

export async function loadConfig() {
  const answer = await fetch("config.json");
  if (answer.ok) config = await answer.json();
  return config;
}

async function offlineOutline() {
  if (outline === null) {
    const answer = await fetch("vendor/world-atlas/countries-50m.json");
    const topology = await answer.json();
    outline = topojson.feature(topology, topology.objects.countries);
  }
  return outline;
}

export const HERTFORDSHIRE = [51.8, -0.25];

export function makeMap(container, { zoom = 10, center = HERTFORDSHIRE, animate = true } = {}) {
  const map = L.map(container, {
    center, zoom, minZoom: 3, maxZoom: 19, zoomControl: true,
    zoomAnimation: animate, fadeAnimation: animate, markerZoomAnimation: animate,
  });
  let removed = false;
  map.on("unload", () => { removed = true; });
  L.control.scale({ imperial: false }).addTo(map);
  map.createPane("base").style.zIndex = 150;
  const note = el("div", { class: "offline-note", text: "Offline base map (Natural Earth)" });
  container.append(note);
  offlineOutline().then((land) => {
    if (removed) return;
    L.geoJSON(land, {
      pane: "base", interactive: false,
      style: { color: "#7d8b99", weight: 1, fillColor: "#f3f1ea", fillOpacity: 1 },
    }).addTo(map);
  });
  if (config.tile_url) {
    let loaded = 0;
    const tiles = L.tileLayer(config.tile_url, {
      attribution: config.tile_attribution, maxZoom: 19, crossOrigin: false,
    });
    tiles.on("tileload", () => { loaded += 1; note.hidden = true; });
    tiles.on("tileerror", () => { if (loaded === 0) note.hidden = false; });
    tiles.addTo(map);
    note.hidden = true;
  }
  return map;
}

export const KIND_COLOURS = { exclusion: "#b3261e", inclusion: "#1e6b8c", curfew: "#6a1b9a" };

// A zone Feature (as GET /zones returns it) -> a Leaflet layer.
export function zoneLayer(feature, { kind, label } = {}) {
  const geometry = feature.geometry || feature;
  const props = feature.properties || {};
  const colour = KIND_COLOURS[kind || props.kind] || "#444";
  const style = { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.15, dashArray: props.kind === "inclusion" ? "6 4" : null };
  let layer;
  if (geometry.type === "Point") {
    const [lon, lat] = geometry.coordinates;
    layer = L.circle([lat, lon], { radius: geometry.radius_m || props.radius_m || 50, ...style });
  } else if (geometry.type === "LineString") {
    const line = geometry.coordinates.map(([lon, lat]) => [lat, lon]);
    layer = L.featureGroup([
      L.polyline(line, { ...style, weight: 2 }),
      ...corridorCircles(line, geometry.half_width_m || 25, style),
    ]);
  } else {
    layer = L.geoJSON(geometry, { style });
  }
  const name = label || props.name || kind || props.kind || "zone";
  layer.bindTooltip(name, { sticky: true, className: "zone-label" });
  return layer;
}

// A corridor is a line buffered by its half width: drawn as the line plus its width at
// each vertex (Leaflet has no metric buffer; good enough to see it).
function corridorCircles(line, halfWidth, style) {
  return line.map((point) => L.circle(point, { radius: halfWidth, ...style, weight: 1, interactive: false }));
}
