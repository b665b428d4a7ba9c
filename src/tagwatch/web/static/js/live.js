// The live feed (SSE) and what every screen shares: subjects, open alerts, statuses.
import { api, query, renew, session, streamUrl } from "./api.js";

const listeners = { alert: new Set(), position: new Set(), gap: new Set(), state: new Set() };
let source = null;

export const store = {
  subjects: new Map(), // id -> subject
  alerts: new Map(), // id -> alert (not resolved, plus those resolved while watching)
  positions: new Map(), // device_id -> {subject_id, lat, lon, accuracy_m, fix_time, valid}
};

export function on(kind, handler) {
  listeners[kind].add(handler);
  return () => listeners[kind].delete(handler);
}

function emit(kind, data) {
  for (const handler of listeners[kind]) handler(data);
}

export async function loadShared() {
  const [subjects, alerts] = await Promise.all([
    api("/subjects"),
    api(`/alerts?${query({ state: ["new", "acknowledged", "escalated"], limit: 500 })}`),
  ]);
  store.subjects = new Map(subjects.map((s) => [s.id, s]));
  store.alerts = new Map(alerts.items.map((a) => [a.id, a]));
}

// A subject created after sign-in shows up on the feed: fetch the list again (once at a time).
let refreshing = null;
function learnSubject(id) {
  if (!id || store.subjects.has(id) || refreshing) return;
  refreshing = api("/subjects")
    .then((subjects) => { store.subjects = new Map(subjects.map((s) => [s.id, s])); })
    .catch(() => {})
    .finally(() => { refreshing = null; });
}

export function subjectName(id) {
  const subject = store.subjects.get(id);
  return subject ? subject.name : id || "unassigned";
}

export function openAlerts() {
  return [...store.alerts.values()].filter((a) => a.state !== "resolved");
}

const VIOLATIONS = new Set(["exclusion", "inclusion", "curfew", "attendance"]);
const TAMPER = new Set(["strap_tamper", "case_tamper"]);

// compliant, violation, nosignal, offline, tamper: the worst open alert of the subject.
export function statusOf(subjectId) {
  const rules = new Set(openAlerts().filter((a) => a.subject_id === subjectId).map((a) => a.rule));
  if ([...rules].some((r) => TAMPER.has(r))) return "tamper";
  if ([...rules].some((r) => VIOLATIONS.has(r))) return "violation";
  if (rules.has("no_comms")) return "offline";
  if (rules.has("no_gps") || rules.has("gps_jamming")) return "nosignal";
  return "compliant";
}
export const STATUS_NAMES = {
  compliant: "Compliant", violation: "In violation", nosignal: "No signal", offline: "Offline",
  tamper: "Tamper",
};

export function connect() {
  disconnect();
  source = new EventSource(streamUrl());
  source.addEventListener("open", () => emit("state", "live"));
  source.addEventListener("error", () => {
    emit("state", "down");
    // The browser reconnects by itself after a network error, but gives up for good when
    // the server refuses the stream (an expired token): renew it and open a new stream.
    if (source !== null && source.readyState === EventSource.CLOSED) {
      const closed = source;
      setTimeout(async () => {
        if (source !== closed || session.token === null) return;
        if (await renew()) connect();
      }, 2_000);
    }
  });
  source.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data).alert;
    learnSubject(alert.subject_id);
    const known = store.alerts.has(alert.id);
    store.alerts.set(alert.id, alert);
    emit("alert", { alert, isNew: !known && alert.state === "new" });
  });
  source.addEventListener("position", (event) => {
    const message = JSON.parse(event.data);
    learnSubject(message.subject_id);
    emit("position", message);
  });
  source.addEventListener("gap", async () => {
    await loadShared();
    emit("gap", null);
  });
}

export function disconnect() {
  if (source !== null) source.close();
  source = null;
}
