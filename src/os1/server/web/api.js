// The HTTP side of the API: one fetch wrapper that turns every failure into an ApiError with
// words for the user (the server's `detail`, or a plain sentence when there is none).

export class ApiError extends Error {
  constructor(status, message, retryAfter = 0) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

const listeners = new Set();

/** Called with no arguments whenever the server says the session is gone (401). */
export function onLoggedOut(listener) {
  listeners.add(listener);
}

function detailText(detail) {
  if (typeof detail === "string") return detail;
  // FastAPI's validation errors: a list of {loc, msg}; the first says enough.
  if (Array.isArray(detail) && detail.length) {
    const first = detail[0];
    const field = Array.isArray(first.loc) ? first.loc[first.loc.length - 1] : "";
    const msg = String(first.msg ?? "is not valid").replace(/^Value error, /, "");
    return field && field !== "body" ? `${field}: ${msg}` : msg;
  }
  return "";
}

export async function api(method, path, body = undefined, { quietAuth = false } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "os1 can't be reached. Check that it is running, then try again.");
  }
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") ?? "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (response.ok) return data;
  const retryAfter = Number(response.headers.get("Retry-After") ?? 0) || 0;
  let message = detailText(data?.detail);
  if (!message) {
    message = response.status >= 500
      ? "Something went wrong on os1's side. Try again in a moment."
      : `That didn't work (${response.status}).`;
  }
  if (response.status === 401 && !quietAuth) listeners.forEach((listener) => listener(message));
  throw new ApiError(response.status, message, retryAfter);
}

export const get = (path) => api("GET", path);
export const put = (path, body) => api("PUT", path, body);
export const post = (path, body) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path, body) => api("DELETE", path, body);

/** The WebSocket URL for an API path on this same server (ws: or wss: to match the page). */
export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

const BACKOFF_S = [1, 2, 4, 8, 15, 30];

/** Seconds to wait before reconnecting a socket, after `attempt` tries that failed. */
export function reconnectDelay(attempt) {
  return BACKOFF_S[Math.min(attempt, BACKOFF_S.length - 1)];
}
