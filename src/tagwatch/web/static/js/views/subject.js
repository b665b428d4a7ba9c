// Subjects: the list, and one subject's page - details, order, zones and curfew timetable,
// device health, alert history, and the trail with playback and exports.
/* global L */
import { api, download, query, session } from "../api.js";
import { DAYS, RULE_NAMES, ago, el, fromLondon, toLondonInput, when } from "../format.js";
import { STATUS_NAMES, statusOf, store, subjectName } from "../live.js";
import { makeMap, zoneLayer } from "../maps.js";

export const subjectsView = {
  async show(root) {
    const subjects = [...store.subjects.values()].sort((a, b) => a.name.localeCompare(b.name));
    root.replaceChildren(el("div", { class: "scroll" }, el("div", { class: "page" },
      el("h1", { text: "Subjects" }),
      el("table", { "aria-label": "Subjects" },
        el("thead", {}, el("tr", {}, ["Name", "Reference", "Risk", "Status"].map((t) => el("th", { scope: "col", text: t })))),
        el("tbody", {}, subjects.map((s) => el("tr", {},
          el("td", {}, el("a", { href: `#/subject/${encodeURIComponent(s.id)}`, text: s.name })),
          el("td", { text: s.reference || "—" }),
          el("td", { text: s.risk_level }),
          el("td", {}, el("span", { class: `status s-${statusOf(s.id)}` }, el("span", { class: "dot", "aria-hidden": "true" }), STATUS_NAMES[statusOf(s.id)])))))))));
  },
};

let trailMap = null;
let showing = 0;
let player = null;

export const subjectView = {
  hide() { stop(); },
  async show(root, [subjectId]) {
    stop();
    const mine = ++showing;
    const id = encodeURIComponent(subjectId);
    const [subject, orders, zones, curfews, alerts, positions, assignments] = await Promise.all([
      api(`/subjects/${id}`), api(`/orders?subject_id=${id}`), api(`/zones?subject_id=${id}`),
      api(`/curfews?subject_id=${id}`), api(`/alerts?${query({ subject_id: subjectId, limit: 100 })}`),
      api(`/positions?subject_id=${id}`), api(`/assignments?subject_id=${id}`),
    ]);
    if (mine !== showing) return; // a newer visit took over
    const latest = positions.features[0];
    const end = latest ? new Date(latest.properties.fix_time) : new Date();
    const start = new Date(end.getTime() - 6 * 3600e3);
    const startInput = el("input", { type: "datetime-local", id: "trail-start", value: toLondonInput(start) });
    const endInput = el("input", { type: "datetime-local", id: "trail-end", value: toLondonInput(new Date(end.getTime() + 60e3)) });
    const openTamper = alerts.items.filter((a) => a.state !== "resolved" && a.rule.endsWith("tamper"));
    const battery = alerts.items.find((a) => a.rule === "low_battery" && a.state !== "resolved");
    root.replaceChildren(el("div", { class: "scroll" }, el("div", { class: "page" },
      el("div", { class: "row" },
        el("h1", { text: subject.name }),
        el("span", { class: `status s-${statusOf(subjectId)}` }, el("span", { class: "dot", "aria-hidden": "true" }), STATUS_NAMES[statusOf(subjectId)]),
        el("span", { class: "spacer" }),
        el("a", { href: `#/map/subject/${id}`, text: "Show on live map" }),
        session.can("editZones") ? el("a", { href: `#/editor/${id}`, text: "Add or edit zones" }) : ""),
      el("div", { class: "grid2" },
        el("section", { class: "card", "aria-labelledby": "h-details" },
          el("h2", { id: "h-details", text: "Details and order" }),
          el("dl", { class: "facts" },
            el("dt", { text: "Reference" }), el("dd", { text: subject.reference || "—" }),
            el("dt", { text: "Risk level" }), el("dd", { text: subject.risk_level }),
            orders.map((o) => [
              el("dt", { text: "Order" }), el("dd", { text: `${o.order_type.replaceAll("_", " ")} ${o.reference}` }),
              el("dt", { text: "In force" }), el("dd", { text: `${when(o.start)} → ${o.end ? when(o.end) : "open-ended"}` }),
              o.conditions.length ? [el("dt", { text: "Conditions" }), el("dd", { text: o.conditions.join("; ") })] : []]))),
        el("section", { class: "card", "aria-labelledby": "h-health" },
          el("h2", { id: "h-health", text: "Device health" }),
          el("dl", { class: "facts", id: "device-health" },
            assignments.filter((a) => !a.end).map((a) => [el("dt", { text: "Tag fitted" }), el("dd", { text: `${a.device_id} since ${when(a.start)}` })]),
            el("dt", { text: "Last fix" }), el("dd", { text: latest ? `${when(latest.properties.fix_time)} (±${Math.round(latest.properties.accuracy_m)} m, ${latest.properties.satellites ?? "?"} satellites)` : "none" }),
            el("dt", { text: "Last contact" }), el("dd", { text: latest ? `${when(latest.properties.received_at)} (${ago(latest.properties.received_at)} ago)` : "none" }),
            el("dt", { text: "Tamper" }), el("dd", { text: openTamper.length ? openTamper.map((a) => RULE_NAMES[a.rule]).join(", ") : "no open tamper alert" }),
            el("dt", { text: "Battery" }), el("dd", { text: battery ? `low since ${when(battery.occurred_at)}` : "no low-battery alert" })))),
      el("div", { class: "grid2" },
        el("section", { class: "card", "aria-labelledby": "h-zones" },
          el("h2", { id: "h-zones", text: "Zones" }),
          zones.features.length ? el("ul", {}, zones.features.map((z) => el("li", {},
            `${z.properties.name || z.id} — ${z.properties.kind}, ${z.geometry.type === "Point" ? `circle ${z.geometry.radius_m} m` : z.geometry.type === "LineString" ? `corridor ±${z.geometry.half_width_m} m` : "polygon"}; ${scheduleText(z.properties.schedule)}`))) : el("p", { class: "muted", text: "No zones." })),
        el("section", { class: "card", "aria-labelledby": "h-curfew" },
          el("h2", { id: "h-curfew", text: "Curfew timetable" }),
          curfews.length ? curfews.map(timetable) : el("p", { class: "muted", text: "No curfew." }))),
      el("section", { class: "card", "aria-labelledby": "h-trail" },
        el("h2", { id: "h-trail", text: "Trail" }),
        el("p", { class: "muted", text: "Reading a trail is audited: state why (a reason and a case or incident reference)." }),
        el("div", { class: "row" },
          el("label", { for: "trail-purpose-code", text: "Reason" }),
          el("select", { id: "trail-purpose-code" },
            el("option", { value: "", text: "Choose…" }),
            PURPOSES.map(([value, text]) => el("option", { value, text }))),
          el("label", { for: "trail-purpose", text: "Reference" }),
          el("input", { id: "trail-purpose", maxlength: "2000", placeholder: "case or incident reference" })),
        el("div", { class: "row" },
          el("label", { for: "trail-start", text: "From (UK time)" }), startInput,
          el("label", { for: "trail-end", text: "to" }), endInput,
          el("button", { type: "button", class: "primary", id: "trail-load", text: "Show trail", onclick: () => loadTrail(subjectId, startInput.value, endInput.value, zones, curfews) }),
          el("span", { class: "spacer" }),
          ["geojson", "gpx", "csv"].map((format) => el("button", {
            type: "button", dataset: { export: format },
            onclick: () => {
              const why = purpose();
              if (why) download(`/subjects/${id}/trail?${query({ start: fromLondon(startInput.value).toISOString(), end: fromLondon(endInput.value).toISOString(), format, ...why })}`, `trail-${subjectId}.${format === "geojson" ? "geojson" : format}`);
            },
          }, `Export ${format.toUpperCase()}`))),
        el("div", { class: "playback", role: "group", "aria-label": "Trail playback" },
          el("button", { type: "button", id: "trail-play", text: "Play", "aria-pressed": "false" }),
          el("label", { for: "trail-speed", text: "Speed" }),
          el("select", { id: "trail-speed" }, [1, 4, 16, 64].map((s) => el("option", { value: s, text: `${s}×` }))),
          el("input", { type: "range", id: "trail-slider", min: "0", max: "0", value: "0", "aria-label": "Position in the trail" }),
          el("output", { id: "trail-time", for: "trail-slider", text: "—" })),
        el("div", { class: "trail-map", id: "trail-map", role: "region", "aria-label": "Trail map" })),
      el("section", { class: "card", "aria-labelledby": "h-history" },
        el("h2", { id: "h-history", text: "Alert history" }),
        alerts.items.length ? el("table", {},
          el("thead", {}, el("tr", {}, ["Alert", "Severity", "State", "Outcome", "Started"].map((t) => el("th", { scope: "col", text: t })))),
          el("tbody", {}, alerts.items.map((a) => el("tr", {},
            el("td", { text: RULE_NAMES[a.rule] || a.rule }), el("td", {}, el("span", { class: `sev sev-${a.severity}`, text: a.severity })),
            el("td", { text: a.state }), el("td", { text: a.outcome || "—" }), el("td", { text: when(a.occurred_at) }))))) : el("p", { class: "muted", text: "No alerts." })))));
    if (trailMap) trailMap.remove();
    trailMap = makeMap(document.getElementById("trail-map"), { animate: false });
    document.getElementById("trail-time").textContent = "state a reason and a reference, then Show trail";
    document.getElementById("trail-play").disabled = true;
    document.getElementById("trail-slider").disabled = true;
    drawRequirements(zones, curfews);
  },
};

function scheduleText(schedule) {
  if (!schedule || schedule.always || !schedule.windows.length) return "always";
  return `${schedule.windows.length} weekly window(s)`;
}

function timetable(curfew) {
  const s = curfew.schedule;
  if (s.always || !s.windows.length) return el("p", { text: "Always at the curfew address." });
  return el("table", { class: "timetable", "aria-label": "Curfew timetable (UK time)" },
    s.first_day || s.last_day ? el("caption", { text: `from ${s.first_day || "—"} to ${s.last_day || "—"}` }) : "",
    el("thead", {}, el("tr", {}, el("th", { text: "Day" }), el("th", { text: "From" }), el("th", { text: "Until" }))),
    el("tbody", {}, [...s.windows].sort((a, b) => a.weekday - b.weekday).map((w) => el("tr", {},
      el("td", { text: DAYS[w.weekday] }), el("td", { text: w.start.slice(0, 5) }),
      el("td", { text: w.end.slice(0, 5) + (w.end <= w.start ? " (next day)" : "") })))));
}

function stop() {
  if (player) clearInterval(player.timer);
  if (player) player.timer = null;
}

const PURPOSES = [
  ["investigation", "Investigation"], ["safeguarding", "Safeguarding"],
  ["court_evidence", "Court evidence"], ["breach_response", "Breach response"],
  ["monitoring", "Monitoring"], ["audit_review", "Audit review"], ["other", "Other"],
];

// The stated purpose of a trail read, or null (and a message) when it is incomplete.
function purpose() {
  const code = document.getElementById("trail-purpose-code").value;
  const text = document.getElementById("trail-purpose").value.trim();
  if (!code || !text) {
    document.getElementById("trail-time").textContent = "state a reason and a reference first";
    (code ? document.getElementById("trail-purpose") : document.getElementById("trail-purpose-code")).focus();
    return null;
  }
  return { purpose_code: code, purpose: text };
}

function drawRequirements(zones, curfews) {
  const group = L.featureGroup().addTo(trailMap);
  for (const zone of zones.features) group.addLayer(zoneLayer(zone));
  for (const curfew of curfews) group.addLayer(zoneLayer(curfew.address, { kind: "curfew", label: "curfew address" }));
  if (group.getLayers().length) trailMap.fitBounds(group.getBounds().pad(0.1));
  return group;
}

async function loadTrail(subjectId, startLocal, endLocal, zones, curfews) {
  stop();
  const why = purpose();
  if (!why) return;
  const start = fromLondon(startLocal).toISOString();
  const end = fromLondon(endLocal).toISOString();
  const trail = await api(`/subjects/${encodeURIComponent(subjectId)}/trail?${query({ start, end, valid_only: true, ...why })}`);
  const fixes = trail.features.filter((f) => f.geometry && f.geometry.type === "Point")
    .sort((a, b) => a.properties.fix_time.localeCompare(b.properties.fix_time));
  trailMap.eachLayer((layer) => { if (!(layer instanceof L.TileLayer) && layer.options.pane !== "base") trailMap.removeLayer(layer); });
  const group = drawRequirements(zones, curfews);
  const line = fixes.map((f) => [f.geometry.coordinates[1], f.geometry.coordinates[0]]);
  if (line.length) group.addLayer(L.polyline(line, { color: "#0b4f9c", weight: 3, opacity: 0.8 }));
  const marker = L.circleMarker(line[0] || [0, 0], { radius: 8, color: "#fff", weight: 3, fillColor: "#12355b", fillOpacity: 1 });
  const accuracy = L.circle(line[0] || [0, 0], { radius: 1, color: "#12355b", weight: 1, fillOpacity: 0.1, interactive: false });
  const slider = document.getElementById("trail-slider");
  const output = document.getElementById("trail-time");
  const play = document.getElementById("trail-play");
  slider.max = String(Math.max(0, fixes.length - 1));
  slider.value = "0";
  play.disabled = slider.disabled = !fixes.length;
  if (!fixes.length) {
    output.textContent = "no fixes in this range";
    return;
  }
  marker.addTo(trailMap);
  accuracy.addTo(trailMap);
  const show = (index) => {
    const fix = fixes[index];
    marker.setLatLng(line[index]);
    accuracy.setLatLng(line[index]).setRadius(fix.properties.accuracy_m);
    output.textContent = `${when(fix.properties.fix_time)} · ${index + 1}/${fixes.length}`;
    marker.getElement()?.setAttribute("data-index", String(index));
  };
  trailMap.fitBounds(group.getBounds().pad(0.1));
  show(0);
  slider.oninput = () => show(Number(slider.value));
  player = { timer: null };
  play.textContent = "Play";
  play.setAttribute("aria-pressed", "false");
  play.onclick = () => {
    if (player.timer) {
      stop();
      play.textContent = "Play";
      play.setAttribute("aria-pressed", "false");
      return;
    }
    play.textContent = "Pause";
    play.setAttribute("aria-pressed", "true");
    player.timer = setInterval(() => {
      const speed = Number(document.getElementById("trail-speed").value);
      const next = Math.min(fixes.length - 1, Number(slider.value) + speed);
      slider.value = String(next);
      show(next);
      if (next >= fixes.length - 1) play.click();
    }, 250);
  };
}
