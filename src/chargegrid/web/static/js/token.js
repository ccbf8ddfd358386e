// Where the API token is kept, and how a new tab signs in (docs/dashboard.md "Signing in").
//
// The decision: a token is an admin's key to every fuse on a site, so by default it is
// never written to disk. It lives in this tab's sessionStorage (survives reloads, gone
// when the tab closes). A tab opened later in the same browser asks the open tabs for it
// over a BroadcastChannel (same origin only; nothing leaves the browser): while one
// signed-in tab is open, new tabs are signed in too; once the last one is closed, the
// next visitor of a shared screen finds nothing. Only with "Remember on this device"
// ticked (a person's own laptop) is it kept in localStorage, which survives closing the
// browser, until "Sign out". Signing out in one tab signs out every tab.
const KEY = "chargegrid.token";
const CHANNEL = "chargegrid.signin";
// How long a new tab waits for an open tab to answer. BroadcastChannel delivers within a
// few milliseconds between live tabs; a tab in the background may be throttled a little.
const HANDOVER_WAIT_MS = 400;

const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : null;

channel?.addEventListener("message", (event) => {
  const message = event.data ?? {};
  if (message.type === "ask") {
    const token = getToken();
    if (token) channel.postMessage({ type: "token", token });
  } else if (message.type === "signed-out") {
    sessionStorage.removeItem(KEY);
    localStorage.removeItem(KEY);
    window.dispatchEvent(new CustomEvent("chargegrid:signed-out"));
  }
});

export function getToken() {
  return sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY);
}

/** Keeps the token for this tab; with `remember`, on this device until signing out. */
export function setToken(token, { remember = false } = {}) {
  sessionStorage.setItem(KEY, token);
  if (remember) localStorage.setItem(KEY, token);
  else localStorage.removeItem(KEY);
}

/** Whether the token is kept on this device (the sign-in checkbox). */
export function isRemembered() {
  return localStorage.getItem(KEY) !== null;
}

/** Forgets the token here and, with `everywhere`, in every open tab of this origin. */
export function clearToken({ everywhere = false } = {}) {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
  if (everywhere) channel?.postMessage({ type: "signed-out" });
}

/**
 * A tab without a token asks the open tabs for theirs. Resolves true when one answered
 * (the token is then this tab's too), false after HANDOVER_WAIT_MS without an answer.
 */
export function recoverToken() {
  if (getToken() || !channel) return Promise.resolve(Boolean(getToken()));
  return new Promise((resolve) => {
    const done = (found) => {
      clearTimeout(timer);
      channel.removeEventListener("message", onMessage);
      resolve(found);
    };
    const onMessage = (event) => {
      if (event.data?.type !== "token" || typeof event.data.token !== "string") return;
      sessionStorage.setItem(KEY, event.data.token);
      done(true);
    };
    const timer = setTimeout(() => done(false), HANDOVER_WAIT_MS);
    channel.addEventListener("message", onMessage);
    channel.postMessage({ type: "ask" });
  });
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
