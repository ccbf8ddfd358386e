// Talks to the REST API (docs: /api/v1/openapi.json). Every failure becomes an ApiError
// carrying the server's problem+json, so views can show the API's own words.
import { getToken } from "./token.js";

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || (status ? `HTTP ${status}` : "Server unreachable");
    this.detail = problem.detail || "";
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }

  /** The messages for one form field; the API may name it "x", "body.x" or "/x". */
  messagesFor(field) {
    return this.errors
      .filter((e) => fieldMatches(String(e.field ?? ""), field))
      .map((e) => String(e.message ?? "invalid value"));
  }

  /** Messages that name no field in `fields` (shown above the form instead). */
  unclaimedMessages(fields) {
    return this.errors
      .filter((e) => !fields.some((f) => fieldMatches(String(e.field ?? ""), f)))
      .map((e) => (e.field ? `${e.field}: ${e.message}` : String(e.message)));
  }
}

function fieldMatches(reported, field) {
  const path = reported.replace(/^\/+/, "").replaceAll("/", ".");
  return path === field || path.endsWith(`.${field}`);
}

/** Authorization headers for the current token (also used by the SSE reader). */
export function authHeaders() {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * Calls the API and returns its JSON (null for 204). Throws ApiError. A 401 also fires
 * "chargegrid:unauthorized" so the app can send the user back to sign in.
 */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json", ...authHeaders() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { title: "Server unreachable", detail: String(err.message || err) });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new CustomEvent("chargegrid:unauthorized"));
    throw new ApiError(response.status, data);
  }
  return data;
}

/** Every item of a paginated list ({data, next_cursor}). */
export async function listAll(path, { signal } = {}) {
  const items = [];
  let cursor = null;
  const sep = path.includes("?") ? "&" : "?";
  // A site has at most a few hundred chargers; the page cap only guards against a loop.
  for (let page = 0; page < 100; page++) {
    const url = `${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const body = await api(url, { signal });
    items.push(...(body.data ?? []));
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return items;
}
