// The public API, and the signed-in session (tokens kept in sessionStorage: gone with the tab).
// Access tokens last 15 minutes: the session renews them with the refresh token a minute
// before they expire, and once more on a 401, so an operator's shift is not cut short.
const BASE = "/api/v1";
const TOKEN_KEY = "tagwatch.token";
const REFRESH_KEY = "tagwatch.refresh";
const EXPIRES_KEY = "tagwatch.expires";
const RENEW_BEFORE_MS = 60_000;

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

const CASEWORKERS = ["admin", "monitoring_operator", "police_officer", "probation_officer"];
const CAPABILITIES = {
  workAlerts: CASEWORKERS,
  readHistory: CASEWORKERS,
  editZones: ["admin", "probation_officer"],
};

export const session = {
  token: sessionStorage.getItem(TOKEN_KEY),
  user: null,
  onSignedOut: () => {},
  // What the signed-in user's role may do (the API enforces it; this only hides controls).
  can(capability) {
    if (this.user === null) return false;
    return (CAPABILITIES[capability] || []).includes(this.user.role);
  },
};

export async function signIn(username, password) {
  const answer = await fetch(`${BASE}/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username, password }),
  });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new ApiError(answer.status, body.detail || "sign-in failed");
  keepTokens(body);
  session.user = await api("/auth/me");
  return session.user;
}

let renewTimer = null;
let renewing = null;

function keepTokens(pair) {
  session.token = pair.access_token;
  sessionStorage.setItem(TOKEN_KEY, pair.access_token);
  sessionStorage.setItem(REFRESH_KEY, pair.refresh_token);
  sessionStorage.setItem(EXPIRES_KEY, pair.expires_at);
  scheduleRenewal();
}

// Renew the access token a minute before it expires (called again after each renewal and
// when a page is opened with a stored session).
export function scheduleRenewal() {
  clearTimeout(renewTimer);
  const expires = Date.parse(sessionStorage.getItem(EXPIRES_KEY) || "");
  if (!sessionStorage.getItem(REFRESH_KEY) || Number.isNaN(expires)) return;
  const wait = Math.max(expires - Date.now() - RENEW_BEFORE_MS, 1_000);
  renewTimer = setTimeout(() => { renew().catch(() => {}); }, wait);
}

// A new token pair for the refresh token (spent by the server: one renewal at a time).
// True when renewed; false when the sign-in is over (the refresh token was refused).
export function renew() {
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  if (!refreshToken) return Promise.resolve(false);
  if (renewing === null) {
    renewing = fetch(`${BASE}/auth/refresh`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    })
      .then(async (answer) => {
        if (!answer.ok) return false;
        keepTokens(await answer.json());
        return true;
      })
      .finally(() => { renewing = null; });
  }
  return renewing;
}

export function signOut() {
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  if (refreshToken) {  // revoke the sign-in on the server too (best effort)
    fetch(`${BASE}/auth/logout`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    }).catch(() => {});
  }
  clearTimeout(renewTimer);
  session.token = null;
  session.user = null;
  for (const key of [TOKEN_KEY, REFRESH_KEY, EXPIRES_KEY]) sessionStorage.removeItem(key);
  session.onSignedOut();
}

export async function api(path, { method = "GET", body, raw = false } = {}) {
  const send = () => {
    const headers = { Authorization: `Bearer ${session.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  };
  let answer = await send();
  if (answer.status === 401 && (await renew())) answer = await send();
  if (answer.status === 401) {
    signOut();
    throw new ApiError(401, "your session ended: sign in again");
  }
  if (raw) {
    if (!answer.ok) throw new ApiError(answer.status, await answer.text());
    return answer;
  }
  const text = await answer.text();
  const data = text ? JSON.parse(text) : null;
  if (!answer.ok) throw new ApiError(answer.status, (data && data.detail) || answer.statusText);
  return data;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(key, one);
  }
  return search.toString();
}

export function streamUrl() {
  return `${BASE}/stream?access_token=${encodeURIComponent(session.token)}`;
}

// Download an export (needs the bearer header, so not a plain link).
export async function download(path, filename) {
  const answer = await api(path, { raw: true });
  const url = URL.createObjectURL(await answer.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
