// Times in Europe/London with the zone's name (GMT/BST), whatever the browser's zone.
export const TIME_ZONE = "Europe/London";

const full = new Intl.DateTimeFormat("en-GB", {
  timeZone: TIME_ZONE, weekday: "short", day: "2-digit", month: "short",
  hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});
const short = new Intl.DateTimeFormat("en-GB", {
  timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});
const parts = new Intl.DateTimeFormat("en-GB", {
  timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

export function when(iso) {
  return iso ? full.format(new Date(iso)) : "—";
}
export function clock(date) {
  return short.format(date);
}

export function ago(iso, now = Date.now()) {
  if (!iso) return "—";
  return duration((now - new Date(iso).getTime()) / 1000);
}

export function duration(seconds) {
  const sign = seconds < 0 ? "-" : "";
  let s = Math.abs(Math.round(seconds));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h) return `${sign}${h} h ${String(m).padStart(2, "0")} min`;
  if (m) return `${sign}${m} min ${String(s).padStart(2, "0")} s`;
  return `${sign}${s} s`;
}

// "2026-11-28T19:00" as a London wall-clock time -> a Date (instant).
export function fromLondon(local) {
  const [d, t = "00:00"] = local.split("T");
  const [y, mo, da] = d.split("-").map(Number);
  const [h, mi, se = 0] = t.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, da, h, mi, se);
  let guess = wall;
  for (let i = 0; i < 3; i += 1) guess = wall - offsetMs(guess);
  return new Date(guess);
}

// A Date -> "YYYY-MM-DDTHH:MM" on London's wall clock (for datetime-local inputs).
export function toLondonInput(date) {
  const p = Object.fromEntries(parts.formatToParts(date).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

function offsetMs(instant) {
  const p = Object.fromEntries(parts.formatToParts(new Date(instant)).map((x) => [x.type, x.value]));
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

export const RULE_NAMES = {
  exclusion: "Exclusion zone entered", inclusion: "Inclusion zone left", curfew: "Curfew absence",
  attendance: "Missed appointment", strap_tamper: "Strap tamper", case_tamper: "Case tamper",
  low_battery: "Low battery", no_gps: "No GPS", no_comms: "No communication",
  gps_jamming: "GPS jamming",
};
export const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
