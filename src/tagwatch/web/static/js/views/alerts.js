// The alert queue: live, ordered by severity then age, with acknowledgement deadlines
// counting down; acknowledge / escalate / resolve with an outcome and a note; each alert's
// evidence on a map. Keyboard: j/k or arrows move, a acknowledge, e escalate, r resolve,
// n note, m evidence map, Esc back to the queue.
/* global L */
import { api, query, session } from "../api.js";
import { RULE_NAMES, ago, duration, el, when } from "../format.js";
import { on, openAlerts, store, subjectName } from "../live.js";
import { makeMap, zoneLayer } from "../maps.js";
import { flash } from "../flash.js";

const RANK = { critical: 0, high: 1, medium: 2, low: 3 };
const ACTION_LABELS = { acknowledge: "Acknowledge", escalate: "Escalate", resolve: "Resolve", note: "Add note", reopen: "Reopen" };
const KEYS = { a: "acknowledge", e: "escalate", r: "resolve", n: "note" };
const OUTCOMES = {
  confirmed_breach: "Confirmed breach", false_alert: "False alert",
  technical_fault: "Technical fault", authorised_absence: "Authorised absence / reasonable excuse",
};
const ZONE_RULES = new Set(["exclusion", "inclusion"]);

let ui = null;
let selected = null; // alert id
let detail = null; // GET /alerts/{id}
let evidenceMap = null;
const fresh = new Set();

function build(root) {
  const body = el("tbody", { id: "queue-body" });
  const panel = el("aside", { class: "side", id: "alert-detail", "aria-label": "Alert details", "aria-live": "polite" },
    el("p", { class: "muted", text: "Select an alert (j / k or the arrow keys, or click)." }));
  root.append(el("div", { class: "split wide-side" },
    el("div", { class: "scroll" },
      el("div", { class: "row" },
        el("h1", { text: "Alert queue" }),
        el("span", { class: "muted", id: "queue-summary" })),
      el("p", { class: "kbd-help", id: "kbd-help" },
        "Keyboard: ", el("kbd", { text: "j" }), "/", el("kbd", { text: "k" }), " or arrows move · ",
        el("kbd", { text: "a" }), " acknowledge · ", el("kbd", { text: "e" }), " escalate · ",
        el("kbd", { text: "r" }), " resolve · ", el("kbd", { text: "n" }), " note · ",
        el("kbd", { text: "m" }), " evidence map · ", el("kbd", { text: "Esc" }), " back to the queue"),
      el("table", { role: "grid", "aria-label": "Open alerts, most urgent first", id: "queue" },
        el("thead", {}, el("tr", {},
          ["Severity", "Alert", "Subject", "State", "Waiting", "Acknowledge within", ""].map((t) => el("th", { scope: "col", text: t })))),
        body)),
    panel));
  ui = { body, panel };
  on("alert", ({ alert, isNew }) => {
    if (isNew) fresh.add(alert.id);
    if (ui && !document.getElementById("view-alerts").hidden) render();
    if (alert.id === selected) openDetail(alert.id, false);
  });
  on("gap", () => render());
  // On the document: with nothing focused, keys go to <body>, not to this view.
  document.addEventListener("keydown", (event) => {
    if (!root.hidden) onKey(event);
  });
  setInterval(tick, 1000);
}

function sorted() {
  return openAlerts().sort((a, b) =>
    RANK[a.severity] - RANK[b.severity] || a.created_at.localeCompare(b.created_at));
}

function render() {
  const alerts = sorted();
  if (selected === null && alerts.length) selected = alerts[0].id;
  const focusedId = document.activeElement?.closest?.("tr.alert-row")?.dataset.id;
  ui.body.replaceChildren(...alerts.map((alert) => row(alert)));
  document.getElementById("queue-summary").textContent =
    `${alerts.length} open · ${alerts.filter((a) => a.state === "new").length} not acknowledged`;
  if (focusedId) ui.body.querySelector(`tr[data-id="${CSS.escape(focusedId)}"]`)?.focus();
  if (!alerts.length) {
    ui.body.append(el("tr", {}, el("td", { colspan: 7, class: "muted", text: "No open alerts." })));
  }
  tick();
}

function row(alert) {
  const isSelected = alert.id === selected;
  const tr = el("tr", {
    class: `alert-row${fresh.has(alert.id) ? " fresh" : ""}`, tabindex: isSelected ? "0" : "-1",
    "aria-selected": String(isSelected), dataset: { id: alert.id, state: alert.state, subject: alert.subject_id, rule: alert.rule },
    onclick: () => select(alert.id, true), onfocus: () => { if (selected !== alert.id) select(alert.id, false); },
  },
  el("td", {}, el("span", { class: `sev sev-${alert.severity}`, text: alert.severity })),
  el("td", {}, RULE_NAMES[alert.rule] || alert.rule, alert.late ? el("span", { class: "muted", text: " (late)" }) : ""),
  el("td", {}, subjectName(alert.subject_id)),
  el("td", { class: "state", text: alert.state }),
  el("td", { dataset: { since: alert.created_at }, class: "waiting" }),
  el("td", { dataset: { deadline: alert.state === "new" ? alert.ack_deadline || "" : "" }, class: "deadline" }),
  el("td", {}, el("span", { class: "muted", text: when(alert.occurred_at) })));
  fresh.delete(alert.id);
  return tr;
}

function tick() {
  if (!ui) return;
  const now = Date.now();
  for (const cell of ui.body.querySelectorAll("td.waiting")) cell.textContent = ago(cell.dataset.since, now);
  for (const cell of ui.body.querySelectorAll("td.deadline")) {
    if (!cell.dataset.deadline) { cell.textContent = "—"; continue; }
    const left = (new Date(cell.dataset.deadline).getTime() - now) / 1000;
    cell.textContent = left >= 0 ? duration(left) : `overdue ${duration(-left)}`;
    cell.classList.toggle("overdue", left < 0);
  }
}

function select(id, focus) {
  selected = id;
  for (const tr of ui.body.querySelectorAll("tr.alert-row")) {
    const on_ = tr.dataset.id === id;
    tr.setAttribute("aria-selected", String(on_));
    tr.tabIndex = on_ ? 0 : -1;
    if (on_ && focus) tr.focus();
  }
  openDetail(id, false);
}

function move(step) {
  const rows = [...ui.body.querySelectorAll("tr.alert-row")];
  if (!rows.length) return;
  const index = rows.findIndex((tr) => tr.dataset.id === selected);
  const next = rows[Math.min(rows.length - 1, Math.max(0, index + step))];
  select(next.dataset.id, true);
}

function onKey(event) {
  if (event.target.closest("input, textarea, select, button, a")) {
    if (event.key === "Escape") backToQueue();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  if (key === "j" || key === "ArrowDown") move(1);
  else if (key === "k" || key === "ArrowUp") move(-1);
  else if (key === "Home") move(-Infinity);
  else if (key === "End") move(Infinity);
  else if (key === "Escape") backToQueue();
  else if (key === "m") document.getElementById("evidence-map")?.focus();
  else if (KEYS[key] && detail && detail.allowed_actions.includes(KEYS[key]) && session.can("workAlerts")) actionForm(KEYS[key]);
  else if (key === "Enter" && event.target.matches("tr.alert-row")) openDetail(selected, false);
  else return;
  event.preventDefault();
}

function backToQueue() {
  document.getElementById("action-form")?.remove();
  ui.body.querySelector(`tr[data-id="${CSS.escape(selected || "")}"]`)?.focus();
}

async function openDetail(id, keepForm) {
  const found = await api(`/alerts/${encodeURIComponent(id)}`);
  if (id !== selected) return;
  detail = found;
  const openForm = keepForm ? document.getElementById("action-form") : null;
  const canAct = session.can("workAlerts");
  const episode = found.episode;
  ui.panel.replaceChildren(
    el("h2", { text: `${RULE_NAMES[found.rule] || found.rule} — ${subjectName(found.subject_id)}` }),
    el("dl", { class: "facts" },
      el("dt", { text: "Severity" }), el("dd", {}, el("span", { class: `sev sev-${found.severity}`, text: found.severity })),
      el("dt", { text: "State" }), el("dd", { id: "detail-state", text: found.state + (found.outcome ? ` (${OUTCOMES[found.outcome] || found.outcome})` : "") }),
      el("dt", { text: "Started" }), el("dd", { text: when(found.occurred_at) }),
      el("dt", { text: "Detected" }), el("dd", { text: when(found.detected_at) + (found.late ? " — late data" : "") }),
      el("dt", { text: "Ack deadline" }), el("dd", { text: when(found.ack_deadline) }),
      episode ? [el("dt", { text: "Ended" }), el("dd", { text: episode.end ? when(episode.end) : "ongoing" }),
        el("dt", { text: "Deepest" }), el("dd", { text: `${Math.round(episode.deepest_penetration_m)} m inside · confidence ${Math.round(episode.confidence * 100)} %` })] : [],
      el("dt", { text: "Subject" }), el("dd", {}, el("a", { href: `#/subject/${encodeURIComponent(found.subject_id)}`, text: subjectName(found.subject_id) })),
      el("dt", { text: "Tag" }), el("dd", { text: found.device_id })),
    canAct ? el("div", { class: "actions", role: "group", "aria-label": "Actions" },
      found.allowed_actions.map((action) => el("button", {
        type: "button", class: action === "resolve" ? "primary" : "", dataset: { action },
        onclick: () => actionForm(action),
      }, ACTION_LABELS[action] || action, el("span", { class: "muted", text: shortcut(action) })))) : el("p", { class: "muted", text: "Viewers cannot act on alerts." }),
    openForm || "",
    el("h3", { text: "Evidence" }),
    el("div", { class: "evidence-map", id: "evidence-map", tabindex: "0", role: "region", "aria-label": "Evidence map: the episode's fixes and the zone" }),
    el("h3", { text: "History" }),
    el("ol", { class: "history" }, found.history.map((h) =>
      el("li", {}, `${when(h.at)} · ${h.action} by ${h.actor}`, h.note ? el("div", { class: "muted", text: h.note }) : ""))));
  drawEvidence(found);
}

function shortcut(action) {
  const key = Object.entries(KEYS).find(([, a]) => a === action);
  return key ? ` (${key[0]})` : "";
}

function actionForm(action) {
  document.getElementById("action-form")?.remove();
  const note = el("input", { id: "action-note", name: "note", required: true, autocomplete: "off", maxlength: "4000" });
  const outcome = action === "resolve"
    ? el("select", { id: "action-outcome", name: "outcome", required: true },
      el("option", { value: "", text: "Choose an outcome…" }),
      Object.entries(OUTCOMES).map(([value, text]) => el("option", { value, text })))
    : null;
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const form = el("form", { class: "action-form", id: "action-form", dataset: { action } },
    el("strong", { text: ACTION_LABELS[action] }),
    outcome ? [el("label", { for: "action-outcome", text: "Outcome" }), outcome] : [],
    el("label", { for: "action-note", text: "Note (required)" }), note, error,
    el("div", { class: "row" },
      el("button", { type: "submit", class: "primary", text: ACTION_LABELS[action] }),
      el("button", { type: "button", text: "Cancel", onclick: backToQueue })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { action, note: note.value.trim() };
    if (outcome) body.outcome = outcome.value;
    if (!body.note || (outcome && !body.outcome)) {
      error.textContent = outcome && !body.outcome ? "Choose an outcome." : "Write a note.";
      error.hidden = false;
      return;
    }
    try {
      const updated = await api(`/alerts/${encodeURIComponent(selected)}/actions`, { method: "POST", body });
      store.alerts.set(updated.id, updated);
      flash(`${ACTION_LABELS[action]}: done (${updated.state}).`, true);
      form.remove();
      render();
      if (updated.state === "resolved") {
        const next = sorted()[0];
        if (next) select(next.id, true);
      } else {
        select(updated.id, true);
      }
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    }
  });
  const actions = ui.panel.querySelector(".actions");
  (actions || ui.panel.firstChild).after(form);
  (outcome || note).focus();
}

let drawing = 0; // the newest evidence drawing: an older one still loading gives up

async function drawEvidence(found) {
  const mine = ++drawing;
  if (evidenceMap) evidenceMap.remove();
  const container = document.getElementById("evidence-map");
  const map = makeMap(container, { zoom: 14, animate: false });
  evidenceMap = map;
  const episode = found.episode;
  const layers = L.featureGroup();
  if (ZONE_RULES.has(found.rule) && found.requirement_id) {
    const zone = await api(`/zones/${encodeURIComponent(found.requirement_id)}`);
    layers.addLayer(zoneLayer(zone));
  } else if (found.rule === "curfew" && found.requirement_id) {
    const curfew = await api(`/curfews/${encodeURIComponent(found.requirement_id)}`);
    layers.addLayer(zoneLayer(curfew.address, { kind: "curfew", label: "curfew address" }));
  }
  if (mine !== drawing) return;
  if (episode && session.can("readHistory")) {
    const start = new Date(new Date(episode.start).getTime() - 10 * 60e3);
    const endAt = episode.end ? new Date(episode.end) : new Date(new Date(episode.start).getTime() + 2 * 3600e3);
    const end = new Date(endAt.getTime() + 10 * 60e3);
    const trail = await api(`/subjects/${encodeURIComponent(found.subject_id)}/trail?${query({ start: start.toISOString(), end: end.toISOString(), valid_only: true, purpose_code: "breach_response", purpose: `evidence of alert ${found.id}` })}`);
    if (mine !== drawing) return;
    const evidence = new Set(episode.evidence.map((t) => new Date(t).getTime()));
    const points = trail.features.filter((f) => f.geometry && f.geometry.type === "Point");
    for (const fix of points) {
      const [lon, lat] = fix.geometry.coordinates;
      const isEvidence = evidence.has(new Date(fix.properties.fix_time).getTime());
      layers.addLayer(L.circle([lat, lon], { radius: fix.properties.accuracy_m, weight: 1, color: isEvidence ? "#b3261e" : "#0b4f9c", fillOpacity: 0.05, interactive: false }));
      layers.addLayer(L.circleMarker([lat, lon], { radius: isEvidence ? 6 : 3, color: isEvidence ? "#b3261e" : "#0b4f9c", fillOpacity: 0.9 })
        .bindTooltip(`${when(fix.properties.fix_time)} ±${Math.round(fix.properties.accuracy_m)} m${isEvidence ? " (evidence)" : ""}`));
    }
  }
  layers.addTo(map);
  if (layers.getLayers().length) map.fitBounds(layers.getBounds().pad(0.2), { maxZoom: 17, animate: false });
}

export const alertsView = {
  show(root) {
    if (!ui) build(root);
    render();
    if (selected) openDetail(selected, false);
  },
};
