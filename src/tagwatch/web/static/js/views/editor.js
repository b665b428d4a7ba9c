// Zone and curfew-window editor: draw or edit a circle, polygon or corridor; exclusion or
// inclusion; warning buffer; a schedule of weekly windows (overnight allowed), a date range
// and dated exceptions; a preview of the alerts it would have raised over the subject's last
// 30 days (the engine on stored fixes) before saving through the API.
/* global L */
import { api, query } from "../api.js";
import { DAYS, el, fromLondon, toLondonInput, when } from "../format.js";
import { store, subjectName } from "../live.js";
import { makeMap, zoneLayer } from "../maps.js";
import { flash } from "../flash.js";

let ui = null;
let draft = null; // { layer, shape: "Polygon" | "Circle" | "Line" }
let editing = null; // { kind: "zone" | "curfew", id } being edited, or null for a new one

function build(root) {
  const mapDiv = el("div", { class: "map", id: "editor-map", role: "region", "aria-label": "Zone drawing map" });
  const form = el("form", { class: "editor-form", id: "zone-form", novalidate: true });
  root.append(el("div", { class: "split wide-side" },
    el("div", { class: "mapbox" }, mapDiv),
    el("aside", { class: "side", "aria-label": "Zone editor" }, form)));
  const map = makeMap(mapDiv, { zoom: 12 });
  const existing = L.featureGroup().addTo(map);
  map.on("pm:create", (event) => {
    if (draft) map.removeLayer(draft.layer);
    draft = { layer: event.layer, shape: event.shape };
    ui.status.textContent = `Drawn: ${describe()}`;
    setPressed(null);
  });
  ui = { map, existing, form, status: null };
  renderForm();
}

function describe() {
  if (!draft) return "nothing yet";
  if (draft.shape === "Circle") return `circle of ${Math.round(draft.layer.getRadius())} m`;
  if (draft.shape === "Line") return `corridor of ${draft.layer.getLatLngs().length} points`;
  return `polygon of ${draft.layer.getLatLngs()[0].length} corners`;
}

function setPressed(id) {
  for (const button of ui.form.querySelectorAll(".tools button[data-draw]")) {
    button.setAttribute("aria-pressed", String(button.dataset.draw === id));
  }
}

function renderForm(subjectId) {
  const subjects = [...store.subjects.values()].sort((a, b) => a.name.localeCompare(b.name));
  const windows = el("div", { id: "windows", class: "editor-form" });
  const exceptions = el("div", { id: "exceptions", class: "editor-form" });
  ui.status = el("p", { class: "muted", id: "draw-status", role: "status", text: "Drawn: nothing yet" });
  ui.preview = el("div", { id: "preview-result", role: "status", "aria-live": "polite" });
  ui.form.replaceChildren(
    el("h1", { id: "editor-title", text: "New zone or curfew" }),
    el("label", { for: "zone-subject", text: "Subject" }),
    el("select", { id: "zone-subject", required: true, onchange: () => loadExisting() },
      subjects.map((s) => el("option", { value: s.id, text: `${s.name} (${s.reference || s.id})`, selected: s.id === subjectId }))),
    el("fieldset", {}, el("legend", { text: "Shape" }),
      el("div", { class: "tools", role: "group", "aria-label": "Drawing tools" },
        el("button", { type: "button", dataset: { draw: "Polygon" }, "aria-pressed": "false", id: "draw-polygon", text: "Draw polygon", onclick: () => startDraw("Polygon") }),
        el("button", { type: "button", dataset: { draw: "Circle" }, "aria-pressed": "false", id: "draw-circle", text: "Draw circle", onclick: () => startDraw("Circle") }),
        el("button", { type: "button", dataset: { draw: "Line" }, "aria-pressed": "false", id: "draw-corridor", text: "Draw corridor", onclick: () => startDraw("Line") }),
        el("button", { type: "button", id: "edit-shape", text: "Edit shape", onclick: toggleEdit }),
        el("button", { type: "button", id: "clear-shape", text: "Clear", onclick: clearDraft })),
      el("p", { class: "muted", text: "Polygon: click the corners, then the first corner again to close. Circle: click the centre and drag. Corridor: click along the route, then the last point again." }),
      ui.status,
      el("label", { for: "zone-half-width", text: "Corridor half width (m)" }),
      el("input", { id: "zone-half-width", type: "number", min: "1", step: "1", value: "50" })),
    el("label", { for: "zone-name", text: "Name" }),
    el("input", { id: "zone-name", maxlength: "200", placeholder: "e.g. victim's street" }),
    el("fieldset", {}, el("legend", { text: "Kind" }),
      el("label", {}, el("input", { type: "radio", name: "zone-kind", value: "exclusion", id: "kind-exclusion", checked: true }), " Exclusion (must not enter)"),
      el("label", {}, el("input", { type: "radio", name: "zone-kind", value: "inclusion", id: "kind-inclusion" }), " Inclusion (must stay inside)"),
      el("label", {}, el("input", { type: "radio", name: "zone-kind", value: "curfew", id: "kind-curfew" }), " Curfew address (must be there during the schedule)")),
    el("label", { for: "zone-buffer", text: "Warning buffer (m, 0 = none)" }),
    el("input", { id: "zone-buffer", type: "number", min: "0", step: "10", value: "0" }),
    el("fieldset", {}, el("legend", { text: "Schedule (UK time)" }),
      el("label", {}, el("input", { type: "checkbox", id: "schedule-always", checked: true, onchange: syncAlways }), " Always in force"),
      windows,
      el("button", { type: "button", id: "add-window", text: "Add weekly window", onclick: () => { document.getElementById("schedule-always").checked = false; windows.append(windowRow()); syncAlways(); } }),
      el("div", { class: "row" },
        el("label", { for: "schedule-first-day", text: "From" }), el("input", { type: "date", id: "schedule-first-day" }),
        el("label", { for: "schedule-last-day", text: "until" }), el("input", { type: "date", id: "schedule-last-day" })),
      el("h3", { text: "Exceptions" }), exceptions,
      el("button", { type: "button", id: "add-exception", text: "Add exception", onclick: () => exceptions.append(exceptionRow()) })),
    el("p", { class: "error", id: "zone-error", role: "alert", hidden: true }),
    el("div", { class: "row" },
      el("button", { type: "button", id: "zone-preview", text: "Preview last 30 days", onclick: preview }),
      el("button", { type: "submit", class: "primary", id: "zone-save", text: "Save zone" }),
      el("button", { type: "button", id: "zone-new", text: "New zone", onclick: () => { editing = null; clearDraft(); renderForm(currentSubject()); loadExisting(); } })),
    ui.preview,
    el("h2", { text: "This subject's zones and curfews" }),
    el("ul", { id: "existing-zones" }));
  ui.form.onsubmit = save;
  syncAlways();
}

function windowRow(window_ = { weekday: 0, start: "19:00:00", end: "07:00:00" }) {
  const row = el("div", { class: "row window-row" },
    el("select", { class: "w-day", "aria-label": "Day" },
      el("option", { value: "all", text: "Every day" }),
      DAYS.map((day, i) => el("option", { value: String(i), text: day, selected: i === window_.weekday && window_.all !== true }))),
    el("input", { type: "time", class: "w-start", value: window_.start.slice(0, 5), "aria-label": "From" }),
    el("input", { type: "time", class: "w-end", value: window_.end.slice(0, 5), "aria-label": "Until (earlier = next day)" }),
    el("button", { type: "button", text: "Remove", onclick: () => { row.remove(); } }));
  if (window_.all) row.querySelector(".w-day").value = "all";
  return row;
}

function exceptionRow(exception = { start: "", end: "", mode: "lifted", reason: "" }) {
  const row = el("div", { class: "row exception-row" },
    el("input", { type: "datetime-local", class: "x-start", "aria-label": "Exception from", value: exception.start }),
    el("input", { type: "datetime-local", class: "x-end", "aria-label": "Exception until", value: exception.end }),
    el("select", { class: "x-mode", "aria-label": "Exception kind" },
      el("option", { value: "lifted", text: "lifted", selected: exception.mode === "lifted" }),
      el("option", { value: "added", text: "added", selected: exception.mode === "added" })),
    el("input", { class: "x-reason", placeholder: "reason", "aria-label": "Reason", value: exception.reason }),
    el("button", { type: "button", text: "Remove", onclick: () => row.remove() }));
  return row;
}

function syncAlways() {
  const always = document.getElementById("schedule-always").checked;
  for (const input of ui.form.querySelectorAll("#windows select, #windows input")) input.disabled = always;
}

function startDraw(shape) {
  ui.map.pm.disableDraw();
  setPressed(shape);
  ui.map.pm.enableDraw(shape, { snappable: false, continueDrawing: false });
}

function toggleEdit() {
  if (!draft) return;
  if (draft.layer.pm.enabled()) draft.layer.pm.disable();
  else draft.layer.pm.enable();
}

function clearDraft() {
  ui.map.pm.disableDraw();
  setPressed(null);
  if (draft) ui.map.removeLayer(draft.layer);
  draft = null;
  if (ui.status) ui.status.textContent = "Drawn: nothing yet";
}

function currentSubject() {
  return document.getElementById("zone-subject")?.value;
}

function geometry() {
  if (!draft) throw new Error("Draw a shape on the map first.");
  const layer = draft.layer;
  if (draft.shape === "Circle") {
    const c = layer.getLatLng();
    return { type: "Point", coordinates: [c.lng, c.lat], radius_m: Math.round(layer.getRadius() * 10) / 10 };
  }
  if (draft.shape === "Line") {
    const halfWidth = Number(document.getElementById("zone-half-width").value);
    return { type: "LineString", coordinates: layer.getLatLngs().map((p) => [p.lng, p.lat]), half_width_m: halfWidth };
  }
  return layer.toGeoJSON().geometry;
}

function schedule() {
  const result = { time_zone: "Europe/London" };
  if (document.getElementById("schedule-always").checked) result.always = true;
  else {
    result.windows = [];
    for (const row of ui.form.querySelectorAll(".window-row")) {
      const day = row.querySelector(".w-day").value;
      const start = row.querySelector(".w-start").value;
      const end = row.querySelector(".w-end").value;
      if (!start || !end) throw new Error("Every weekly window needs a start and an end time.");
      const days = day === "all" ? [0, 1, 2, 3, 4, 5, 6] : [Number(day)];
      for (const weekday of days) result.windows.push({ weekday, start, end });
    }
    if (!result.windows.length) throw new Error("Add a weekly window or choose 'Always in force'.");
  }
  const first = document.getElementById("schedule-first-day").value;
  const last = document.getElementById("schedule-last-day").value;
  if (first) result.first_day = first;
  if (last) result.last_day = last;
  result.exceptions = [...ui.form.querySelectorAll(".exception-row")].map((row) => {
    const start = row.querySelector(".x-start").value;
    const end = row.querySelector(".x-end").value;
    if (!start || !end) throw new Error("Every exception needs a start and an end.");
    return {
      start: fromLondon(start).toISOString(), end: fromLondon(end).toISOString(),
      mode: row.querySelector(".x-mode").value, reason: row.querySelector(".x-reason").value,
    };
  });
  return result;
}

function feature() {
  const kind = ui.form.querySelector("input[name=zone-kind]:checked").value;
  return {
    type: "Feature",
    geometry: geometry(),
    properties: {
      subject_id: currentSubject(),
      kind,
      name: document.getElementById("zone-name").value.trim(),
      warning_buffer_m: Number(document.getElementById("zone-buffer").value) || 0,
      schedule: schedule(),
    },
  };
}

function showError(message) {
  const box = document.getElementById("zone-error");
  box.textContent = message;
  box.hidden = !message;
}

async function preview() {
  showError("");
  let body;
  try { body = feature(); } catch (error) { showError(error.message); return; }
  const curfew = body.properties.kind === "curfew";
  if (curfew) body = curfewBody(body);
  const subjectId = curfew ? body.subject_id : body.properties.subject_id;
  const what = curfew ? "curfew-preview" : "zone-preview";
  const why = `${curfew ? "curfew" : "zone"} editor preview: ${curfew ? "curfew address" : body.properties.name || "unnamed zone"}`;
  ui.preview.replaceChildren(el("p", { class: "muted", text: "Replaying the last 30 days through the engine…" }));
  try {
    const result = await api(`/subjects/${encodeURIComponent(subjectId)}/${what}?${query({ days: 30, purpose_code: "monitoring", purpose: why })}`, { method: "POST", body });
    ui.preview.replaceChildren(el("div", { class: "preview-result" },
      el("strong", { id: "preview-count", text: `${result.alerts} alert${result.alerts === 1 ? "" : "s"}` }),
      ` would have been raised over the last 30 days (${result.fixes.toLocaleString("en-GB")} stored fixes replayed`,
      result.warnings ? `, ${result.warnings} approach warnings` : "", ").",
      result.episodes.length ? el("ol", {}, result.episodes.slice(0, 20).map((e) =>
        el("li", { text: `${when(e.start)} → ${e.end ? when(e.end) : "ongoing"} (${Math.round(e.deepest_penetration_m)} m deep)` }))) : ""));
  } catch (error) {
    ui.preview.replaceChildren();
    showError(error.message);
  }
}

async function save(event) {
  event.preventDefault();
  showError("");
  let body;
  try { body = feature(); } catch (error) { showError(error.message); return; }
  if (body.properties.kind === "curfew") {
    await saveCurfew(curfewBody(body));
    return;
  }
  try {
    let saved;
    if (editing && editing.kind === "zone") {
      const { subject_id: _ignored, ...properties } = body.properties;
      saved = await api(`/zones/${encodeURIComponent(editing.id)}`, { method: "PATCH", body: { type: "Feature", geometry: body.geometry, properties } });
    } else {
      saved = await api("/zones", { method: "POST", body });
    }
    editing = { kind: "zone", id: saved.id };
    document.getElementById("editor-title").textContent = `Editing zone ${saved.properties.name || saved.id}`;
    flash(`Zone saved: ${saved.properties.name || saved.id} (${saved.properties.kind}) for ${subjectName(saved.properties.subject_id)}.`, true);
    ui.form.dataset.savedId = saved.id;
    clearDraft();
    await loadExisting();
  } catch (error) {
    showError(error.message);
  }
}

function curfewBody(zoneFeature) {
  return { subject_id: zoneFeature.properties.subject_id, address: zoneFeature.geometry, schedule: zoneFeature.properties.schedule };
}

async function saveCurfew(body) {
  try {
    let saved;
    if (editing && editing.kind === "curfew") {
      saved = await api(`/curfews/${encodeURIComponent(editing.id)}`, { method: "PATCH", body: { address: body.address, schedule: body.schedule } });
    } else {
      saved = await api("/curfews", { method: "POST", body });
    }
    editing = { kind: "curfew", id: saved.id };
    document.getElementById("editor-title").textContent = "Editing the curfew";
    flash(`Curfew saved for ${subjectName(saved.subject_id)}.`, true);
    ui.form.dataset.savedId = saved.id;
    clearDraft();
    await loadExisting();
  } catch (error) {
    showError(error.message);
  }
}

// A curfew shown and edited like a zone of kind "curfew" (its address is the shape).
function curfewAsZone(curfew) {
  return {
    id: curfew.id, geometry: curfew.address,
    properties: { kind: "curfew", name: "curfew address", warning_buffer_m: 0, schedule: curfew.schedule },
  };
}

async function loadExisting() {
  const subjectId = currentSubject();
  if (!subjectId) return;
  const [zones, curfews] = await Promise.all([
    api(`/zones?subject_id=${encodeURIComponent(subjectId)}`),
    api(`/curfews?subject_id=${encodeURIComponent(subjectId)}`),
  ]);
  ui.existing.clearLayers();
  const all = [...zones.features, ...curfews.map(curfewAsZone)];
  const list = document.getElementById("existing-zones");
  list.replaceChildren(...all.map((zone) => el("li", {},
    `${zone.properties.name || zone.id} (${zone.properties.kind}) `,
    el("button", { type: "button", text: "Edit", dataset: { zone: zone.id }, onclick: () => edit(zone) }))));
  for (const zone of all) ui.existing.addLayer(zoneLayer(zone));
  if (all.length) ui.map.fitBounds(ui.existing.getBounds().pad(0.3), { maxZoom: 16 });
  else {
    const position = [...store.positions.values()].find((p) => p.subject_id === subjectId);
    if (position) ui.map.setView([position.lat, position.lon], 15);
  }
}

function edit(zone) {
  clearDraft();
  const g = zone.geometry;
  let layer;
  let shape;
  if (g.type === "Point") {
    layer = L.circle([g.coordinates[1], g.coordinates[0]], { radius: g.radius_m });
    shape = "Circle";
  } else if (g.type === "LineString") {
    layer = L.polyline(g.coordinates.map(([lon, lat]) => [lat, lon]));
    shape = "Line";
    document.getElementById("zone-half-width").value = g.half_width_m;
  } else if (g.type === "Polygon") {
    layer = L.polygon(g.coordinates.map((ring) => ring.map(([lon, lat]) => [lat, lon])));
    shape = "Polygon";
  } else {
    flash("MultiPolygon zones can be previewed and saved through the API; the editor draws single polygons.");
    return;
  }
  layer.addTo(ui.map);
  layer.pm.enable();
  draft = { layer, shape };
  const p = zone.properties;
  editing = { kind: p.kind === "curfew" ? "curfew" : "zone", id: zone.id };
  document.getElementById("editor-title").textContent = p.kind === "curfew" ? "Editing the curfew" : `Editing zone ${p.name || zone.id}`;
  document.getElementById("zone-name").value = p.name;
  document.getElementById(`kind-${p.kind}`).checked = true;
  document.getElementById("zone-buffer").value = p.warning_buffer_m;
  document.getElementById("schedule-always").checked = p.schedule.always || !p.schedule.windows.length;
  document.getElementById("windows").replaceChildren(...p.schedule.windows.map((w) => windowRow(w)));
  document.getElementById("schedule-first-day").value = p.schedule.first_day || "";
  document.getElementById("schedule-last-day").value = p.schedule.last_day || "";
  document.getElementById("exceptions").replaceChildren(...(p.schedule.exceptions || []).map((x) => exceptionRow({
    start: toLondonInput(new Date(x.start)), end: toLondonInput(new Date(x.end)), mode: x.mode, reason: x.reason || "",
  })));
  syncAlways();
  ui.status.textContent = `Editing: ${describe()} — drag the corners`;
}

export const editorView = {
  async show(root, [subjectId]) {
    if (!ui) build(root);
    if (subjectId && subjectId !== currentSubject()) {
      editing = null;
      clearDraft();
      renderForm(subjectId);
    }
    ui.map.invalidateSize();
    await loadExisting();
  },
  hide() {
    ui?.map.pm.disableDraw();
  },
};
