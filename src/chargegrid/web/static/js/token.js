// The API token lives in sessionStorage: it survives reloads of this tab and is gone when
// the tab closes, so a shared screen does not stay signed in.
const KEY = "chargegrid.token";

export function getToken() {
  return sessionStorage.getItem(KEY);
}

export function setToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

/**
 * Accepts a token handed over in the URL fragment (`/#token=...`, as printed by
 * `chargegrid serve --demo`). The fragment never reaches the server or its logs; it is
 * removed from the address bar at once so it is not bookmarked or shared.
 */
export function adoptTokenFromUrl() {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return false;
  setToken(decodeURIComponent(match[1]));
  history.replaceState(null, "", location.pathname + location.search + "#/");
  return true;
}
