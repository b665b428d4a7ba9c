// The dashboard shell: sign-in, navigation (hash routes), clock, live feed, alert cue.
import { ApiError, api, scheduleRenewal, session, signIn, signOut } from "./api.js";
import { flash } from "./flash.js";
import { clock } from "./format.js";
import { connect, disconnect, loadShared, on, openAlerts } from "./live.js";
import { loadConfig } from "./maps.js";
import { alertsView } from "./views/alerts.js";
import { editorView } from "./views/editor.js";
import { mapView } from "./views/map.js";
import { subjectView, subjectsView } from "./views/subject.js";

const views = {
  map: mapView, alerts: alertsView, subjects: subjectsView, subject: subjectView, editor: editorView,
};
let current = null;
let audio = null;

const $ = (id) => document.getElementById(id);

window.addEventListener("unhandledrejection", (event) => {
  // API refusals are shown to the user, not left for the console.
  if (event.reason instanceof ApiError) {
    event.preventDefault();
    flash(event.reason.message);
  }
});

function route() {
  if (!session.user) return showLogin();
  const [name = "map", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const view = views[name] ? name : "map";
  if (view === "editor" && !session.can("editZones")) {
    location.hash = "#/map";
    return undefined;
  }
  for (const [key] of Object.entries(views)) $(`view-${key}`).hidden = key !== view;
  $("view-login").hidden = true;
  for (const link of document.querySelectorAll("[data-nav]")) {
    const active = link.dataset.nav === view || (view === "subject" && link.dataset.nav === "subjects");
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (current && current !== views[view]) current.hide?.();
  current = views[view];
  return current.show($(`view-${view}`), rest.map(decodeURIComponent));
}

function showLogin() {
  for (const key of Object.keys(views)) $(`view-${key}`).hidden = true;
  $("topbar").hidden = true;
  $("view-login").hidden = false;
  $("login-username").focus();
}

async function start() {
  $("topbar").hidden = false;
  $("who").textContent = `${session.user.username} (${session.user.role})`;
  for (const link of document.querySelectorAll("[data-role]")) {
    link.hidden = !session.can(link.dataset.role);
  }
  await loadShared();
  updateBadge(false);
  connect();
  await route();
}

function updateBadge(pulse) {
  const badge = $("alert-count");
  badge.textContent = String(openAlerts().length);
  if (pulse) {
    badge.classList.remove("pulse");
    void badge.offsetWidth; // restart the animation
    badge.classList.add("pulse");
  }
}

function chime() {
  if (audio === null || audio.state !== "running") return;
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  tone.frequency.value = 880;
  gain.gain.setValueAtTime(0.15, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.5);
  tone.connect(gain).connect(audio.destination);
  tone.start();
  tone.stop(audio.currentTime + 0.5);
}

on("alert", ({ isNew }) => {
  updateBadge(isNew);
  if (isNew) chime();
});
on("gap", () => updateBadge(false));
on("state", (state) => {
  const feed = $("feed-state");
  feed.className = `feed ${state}`;
  feed.textContent = state === "live" ? "live" : "reconnecting…";
});

session.onSignedOut = () => {
  disconnect();
  showLogin();
};

// Browsers allow sound only after a user gesture: the first click or key press enables it
// (after a reload the sign-in click that did so before is gone).
function enableSound() {
  if (audio === null && window.AudioContext) audio = new AudioContext();
  else if (audio !== null && audio.state === "suspended") audio.resume().catch(() => {});
}
document.addEventListener("pointerdown", enableSound, { once: true });
document.addEventListener("keydown", enableSound, { once: true });

document.addEventListener("DOMContentLoaded", async () => {
  setInterval(() => { $("clock").textContent = clock(new Date()); }, 1000);
  $("clock").textContent = clock(new Date());
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    enableSound();
    $("login-error").hidden = true;
    try {
      await signIn($("login-username").value, $("login-password").value);
      $("login-password").value = "";
      if (!location.hash || location.hash === "#/") location.hash = "#/map";
      await start();
    } catch (error) {
      $("login-error").textContent = error.status === 401 ? "Wrong username or password." : error.message;
      $("login-error").hidden = false;
    }
  });
  $("sign-out").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", () => { if (session.user) route(); });
  await loadConfig();
  if (session.token) {
    try {
      scheduleRenewal();
      session.user = await api("/auth/me");
      await start();
      return;
    } catch {
      signOut();
    }
  }
  showLogin();
});
