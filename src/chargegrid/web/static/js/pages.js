// The sign-in page and the list of sites.
import { api, ApiError, listAll } from "./api.js";
import { h } from "./dom.js";
import { flagCountBadges, flagSummary, notFollowingIds } from "./charger-flags.js";
import { amps, PHASES } from "./format.js";
import { rightsOf } from "./identity.js";
import { cannotCreateWords, newSiteForm } from "./site-setup.js";
import { isRemembered, setToken } from "./token.js";

export function signInPage({ message, onSignedIn }) {
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "current-password",
    required: true,
    "aria-describedby": "token-error",
  });
  const error = h("p", { class: "field-error", id: "token-error", role: "alert" }, message ?? "");
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  // Off by default: the token then never touches the disk (token.js says why).
  const remember = h("input", { id: "remember", name: "remember", type: "checkbox", checked: isRemembered(), "aria-describedby": "remember-help" });
  const form = h(
    "form",
    { class: "signin panel" },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste an API token. ", h("code", {}, "chargegrid token create --role admin"), " prints one."),
    h("label", { for: "token" }, "API token"),
    input,
    error,
    h("div", { class: "remember" }, remember, h("label", { for: "remember" }, "Remember on this device")),
    h(
      "p",
      { class: "help", id: "remember-help" },
      "Without it, new tabs are signed in while this one stays open, and closing the last tab signs you out. Tick it only on a device that is yours.",
    ),
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      error.textContent = "Enter a token.";
      return;
    }
    button.disabled = true;
    setToken(token);
    try {
      await api("/sites?limit=1"); // Proves the token before leaving the page.
      setToken(token, { remember: remember.checked }); // Kept on the device only once proven.
      onSignedIn();
    } catch (err) {
      error.textContent =
        err instanceof ApiError && err.status === 401 ? "This token is not valid." : err.message;
      input.setAttribute("aria-invalid", "true");
    } finally {
      button.disabled = false;
    }
  });
  queueMicrotask(() => input.focus());
  return form;
}

export async function sitesPage(identity) {
  const sites = await listAll("/sites");
  const attention = await siteAttention(sites);
  const rights = rightsOf(identity);
  const items = sites.map((site) => {
    const effective = site.effective_available_current ?? {};
    return h(
      "li",
      { dataset: { siteId: site.id }, class: "site-item" },
      h(
        "a",
        { href: `#/sites/${site.id}`, class: "site-link" },
        h("span", { class: "site-name", id: `site-name-${site.id}` }, site.name),
        h(
          "span",
          { class: "site-facts" },
          `main fuse ${amps(site.max_current)} · available ${PHASES.map((p) => amps(effective[p])).join(" / ")}`,
        ),
        siteFlags(attention.get(site.id) ?? []),
      ),
      // Described (not named) by the site's name: the site link alone is named after the site.
      h("a", { href: `#/sites/${site.id}/setup`, class: "setup-link", "aria-describedby": `site-name-${site.id}` }, rights.write ? "Set up" : "Circuits and chargers"),
    );
  });
  const tools = h(
    "nav",
    { class: "page-tools", "aria-label": "Operations" },
    h("a", { href: "#/chargers" }, "Chargers"),
    h("a", { href: "#/sessions" }, "Sessions"),
    h("a", { href: "#/id-tags" }, "Id tags"),
    rights.seesUnplaced ? h("a", { href: "#/pending" }, "Pending chargers") : null,
    rights.createSite && items.length ? h("a", { href: "#/sites/new" }, "New site") : null,
  );
  return h(
    "div",
    { class: "sites-page" },
    h("div", { class: "page-head" }, h("h1", {}, "Sites"), tools),
    items.length ? h("ul", { class: "site-list" }, items) : emptyState(identity, rights),
  );
}

/** The first screen of a server without sites (or a token that sees none): what to do. */
function emptyState(identity, rights) {
  if (identity?.site_ids && identity.site_ids.length === 0) {
    return h("p", { class: "empty" }, "No sites visible to this token.");
  }
  const intro = h(
    "div",
    { class: "panel empty-state" },
    h("h2", {}, "No sites yet"),
    h(
      "p",
      {},
      "A site is one grid connection: its main fuse, the circuits below it, and the chargers on them. ",
      "Create it, add its circuits, then add each charger and type the URL shown into it.",
    ),
    rights.createSite
      ? newSiteForm({ onCreated: (site) => { location.hash = `#/sites/${site.id}/setup`; } })
      : h("p", {}, identity?.site_ids ? "No sites visible to this token." : cannotCreateWords(identity)),
  );
  return intro;
}

/** Per site, how many of its chargers are offline, faulted or not following a limit. */
async function siteAttention(sites) {
  if (!sites.length) return new Map();
  const noLoad = (err) => (err instanceof ApiError && err.status === 404 ? null : Promise.reject(err));
  const [chargers, loads] = await Promise.all([
    listAll("/chargers"),
    Promise.all(sites.map((site) => api(`/sites/${site.id}/load`).catch(noLoad))),
  ]);
  return new Map(
    sites.map((site, i) => [site.id, flagSummary(chargers.filter((c) => c.site_id === site.id), notFollowingIds(loads[i]))]),
  );
}

function siteFlags(summary) {
  if (!summary.length) return null;
  return h(
    "span",
    { class: "site-flags" },
    flagCountBadges(summary),
  );
}
