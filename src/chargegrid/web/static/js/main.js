// Boot and routing: #/ (sites), #/sites/<id> (one site); sign-in when there is no token.
import { ApiError } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { whoAmI } from "./identity.js";
import { operatorScreen } from "./operator-routes.js";
import { signInPage, sitesPage } from "./pages.js";
import { setupRoute } from "./setup-routes.js";
import { SitePage } from "./site-page.js";
import { adoptTokenFromUrl, clearToken, getToken, recoverToken } from "./token.js";

const app = document.getElementById("app");
const crumbs = document.getElementById("crumbs");
const whoami = document.getElementById("whoami");
let current = null; // The page that owns streams and timers, stopped on navigation.
let identity = null;
let generation = 0; // Drops the result of a route that was left before it loaded.
let signingIn = false; // The sign-in form handles its own 401s.

function signOut(message, everywhere = false) {
  signingIn = true;
  current?.stop();
  current = null;
  clearToken({ everywhere }); // The button signs out every tab (token.js).
  identity = null;
  show(signInPage({ message, onSignedIn: () => route() }), []);
}

function show(content, trail) {
  replaceChildren(app, content);
  replaceChildren(
    crumbs,
    trail.map((c, i) => (i < trail.length - 1 ? [h("a", { href: c.href }, c.label), " / "] : h("span", {}, c.label))),
  );
  replaceChildren(
    whoami,
    getToken()
      ? [
          identity?.role ? h("span", { class: "role" }, identity.role) : null,
          h("button", { type: "button", class: "link", onclick: () => signOut(undefined, true) }, "Sign out"),
        ]
      : null,
  );
}

async function route() {
  const mine = ++generation;
  current?.stop();
  current = null;
  if (!getToken()) return signOut();
  signingIn = false;
  try {
    identity ??= await whoAmI();
    // Chargers, a charger, sessions (operator-routes.js): pages with start() -> title.
    const screen = operatorScreen(location.hash, identity);
    if (screen) {
      current = screen.page;
      show(screen.page.el, screen.trail("…"));
      const title = await screen.page.start();
      if (mine === generation) show(screen.page.el, screen.trail(title));
      return;
    }
    const setup = setupRoute(location.hash, identity);
    if (setup) {
      current = setup.page;
      show(setup.page.el, setup.trail());
      const named = await setup.page.start();
      if (mine === generation) show(setup.page.el, setup.trail(named));
      return;
    }
    const match = /^#\/sites\/([^/]+)$/.exec(location.hash);
    if (match) {
      const page = new SitePage(decodeURIComponent(match[1]), identity);
      current = page;
      show(page.el, [{ href: "#/", label: "Sites" }, { label: "…" }]);
      const site = await page.start();
      if (mine === generation) show(page.el, [{ href: "#/", label: "Sites" }, { label: site.name }]);
      return;
    }
    const list = await sitesPage(identity);
    if (mine === generation) show(list, [{ label: "Sites" }]);
  } catch (err) {
    if (mine !== generation) return;
    if (err instanceof ApiError && err.status === 401) return signOut("Your token is no longer valid.");
    show(
      h(
        "div",
        { class: "panel problem", role: "alert" },
        h("h1", {}, err instanceof ApiError && err.status === 404 ? "Not found" : "Something went wrong"),
        h("p", {}, err.message),
        h("p", {}, h("a", { href: "#/" }, "Back to the sites")),
      ),
      [{ href: "#/", label: "Sites" }],
    );
  }
}

window.addEventListener("chargegrid:unauthorized", () => {
  if (!signingIn) signOut("Your token is no longer valid.");
});
window.addEventListener("chargegrid:signed-out", () => signOut("Signed out in another tab."));
window.addEventListener("hashchange", () => route());
adoptTokenFromUrl();
recoverToken().then(() => route()); // A new tab asks an open one for the token first.
