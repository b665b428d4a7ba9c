// Live map: each device's latest position, accuracy circle, status colour; zones by kind;
// clustering when zoomed out; pushed over SSE.
/* global L */
import { api } from "../api.js";
import { ago, el, when } from "../format.js";
import { STATUS_NAMES, on, statusOf, store, subjectName } from "../live.js";
import { makeMap, zoneLayer } from "../maps.js";

const ACCURACY_FROM_ZOOM = 13;
let built = null;

function build(root) {
  const mapDiv = el("div", { class: "map", id: "live-map", role: "region", "aria-label": "Live map of subjects" });
  const list = el("ul", { class: "subject-list", id: "subject-list" });
  const legend = el("div", { class: "legend" },
    Object.entries(STATUS_NAMES).map(([key, name]) =>
      el("span", { class: `status s-${key}` }, el("span", { class: "dot", "aria-hidden": "true" }), name)));
  root.append(el("div", { class: "split" },
    el("div", { class: "mapbox" }, mapDiv),
    el("aside", { class: "side", "aria-label": "Subjects on the map" },
      el("h1", { text: "Live map" }),
      el("p", { class: "muted", id: "map-summary", text: "Loading positions…" }),
      legend,
      el("h2", { text: "Subjects" }),
      list)));
  const map = makeMap(mapDiv);
  const clusters = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 40 });
  const accuracy = L.layerGroup();
  const zones = L.layerGroup().addTo(map);
  clusters.addTo(map);
  map.on("zoomend", () => {
    if (map.getZoom() >= ACCURACY_FROM_ZOOM) accuracy.addTo(map);
    else accuracy.remove();
  });
  built = { map, clusters, accuracy, zones, list, markers: new Map(), fitted: false };
  on("position", (message) => {
    const fix = message.fix;
    if (!fix.valid) return;
    place(message.device_id, message.subject_id, fix);
    renderList();
  });
  on("alert", () => { restyle(); renderList(); });
  on("gap", () => refresh());
}

function place(deviceId, subjectId, fix) {
  const latlng = [fix.lat, fix.lon];
  store.positions.set(deviceId, { subject_id: subjectId, ...fix });
  const status = statusOf(subjectId);
  let entry = built.markers.get(deviceId);
  if (!entry) {
    const marker = L.marker(latlng, { icon: icon(status), keyboard: true, title: subjectName(subjectId) });
    const circle = L.circle(latlng, { radius: fix.accuracy_m, color: "#0b4f9c", weight: 1, fillOpacity: 0.08, interactive: false });
    marker.on("click", () => marker.openPopup());
    entry = { marker, circle };
    built.markers.set(deviceId, entry);
    built.clusters.addLayer(marker);
    built.accuracy.addLayer(circle);
  } else {
    entry.marker.setLatLng(latlng);
    entry.circle.setLatLng(latlng).setRadius(fix.accuracy_m);
    entry.marker.setIcon(icon(status));
  }
  entry.marker.getElement?.()?.setAttribute("data-subject", subjectId || "");
  entry.marker.bindPopup(popup(subjectId, deviceId, fix));
}

function icon(status) {
  return L.divIcon({ className: `subject-marker s-${status}`, html: "<div></div>", iconSize: [18, 18], iconAnchor: [9, 9] });
}

function popup(subjectId, deviceId, fix) {
  return el("div", {},
    el("strong", { text: subjectName(subjectId) }), el("br"),
    `${STATUS_NAMES[statusOf(subjectId)]} · tag ${deviceId}`, el("br"),
    `fix ${when(fix.fix_time)} (±${Math.round(fix.accuracy_m)} m)`, el("br"),
    subjectId ? el("a", { href: `#/subject/${encodeURIComponent(subjectId)}`, text: "Open subject" }) : "");
}

function restyle() {
  for (const [deviceId, entry] of built.markers) {
    const position = store.positions.get(deviceId);
    entry.marker.setIcon(icon(statusOf(position.subject_id)));
  }
}

function renderList() {
  const rows = [...store.positions.entries()]
    .filter(([, p]) => p.subject_id)
    .map(([deviceId, p]) => ({ deviceId, p, status: statusOf(p.subject_id) }))
    .sort((a, b) => order(a.status) - order(b.status) || subjectName(a.p.subject_id).localeCompare(subjectName(b.p.subject_id)));
  built.list.replaceChildren(...rows.map(({ deviceId, p, status }) =>
    el("li", {},
      el("button", {
        type: "button", class: "subject-item", dataset: { subject: p.subject_id, status },
        onclick: () => {
          built.map.setView([p.lat, p.lon], Math.max(built.map.getZoom(), 15));
          built.markers.get(deviceId).marker.openPopup();
        },
      },
      el("span", {}, subjectName(p.subject_id)),
      el("span", { class: `status s-${status}` }, el("span", { class: "dot", "aria-hidden": "true" }), STATUS_NAMES[status])))));
  const summary = document.getElementById("map-summary");
  summary.textContent = `${rows.length} subjects with a position · ${rows.filter((r) => r.status !== "compliant").length} need attention · newest fix ${ago(newest(), Date.now())} ago`;
}

function order(status) {
  return ["tamper", "violation", "offline", "nosignal", "compliant"].indexOf(status);
}

function newest() {
  let best = null;
  for (const p of store.positions.values()) if (!best || p.fix_time > best) best = p.fix_time;
  return best;
}

async function refresh() {
  const [positions, zones, curfews] = await Promise.all([api("/positions"), api("/zones"), api("/curfews")]);
  for (const feature of positions.features) {
    if (!feature.geometry) continue;
    const [lon, lat] = feature.geometry.coordinates;
    place(feature.id, feature.properties.subject_id, { ...feature.properties, lat, lon });
  }
  built.zones.clearLayers();
  for (const zone of zones.features) {
    built.zones.addLayer(zoneLayer(zone, { label: `${zone.properties.name || zone.properties.kind} (${subjectName(zone.properties.subject_id)})` }));
  }
  for (const curfew of curfews) {
    built.zones.addLayer(zoneLayer(curfew.address, { kind: "curfew", label: `curfew address (${subjectName(curfew.subject_id)})` }));
  }
  renderList();
  if (!built.fitted && built.markers.size) {
    built.fitted = true;
    const bounds = L.latLngBounds([...store.positions.values()].map((p) => [p.lat, p.lon]));
    built.map.fitBounds(bounds.pad(0.1), { maxZoom: 14 });
  }
}

export const mapView = {
  async show(root, params) {
    if (!built) {
      build(root);
      await refresh();
    }
    built.map.invalidateSize();
    if (params[0] === "subject" && params[1]) {
      for (const [deviceId, p] of store.positions) {
        if (p.subject_id === params[1]) {
          built.map.setView([p.lat, p.lon], 16);
          built.markers.get(deviceId).marker.openPopup();
        }
      }
    }
  },
};
