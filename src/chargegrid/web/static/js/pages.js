// The sign-in page and the list of sites.
import { api, ApiError, listAll } from "./api.js";
import { h } from "./dom.js";
import { amps, PHASES } from "./format.js";
import { setToken } from "./token.js";

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
  const form = h(
    "form",
    { class: "signin panel" },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste an API token. ", h("code", {}, "chargegrid token create --role admin"), " prints one."),
    h("label", { for: "token" }, "API token"),
    input,
    error,
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

export async function sitesPage() {
  const sites = await listAll("/sites");
  const items = sites.map((site) => {
    const effective = site.effective_available_current ?? {};
    return h(
      "li",
      { dataset: { siteId: site.id } },
      h(
        "a",
        { href: `#/sites/${site.id}`, class: "site-link" },
        h("span", { class: "site-name" }, site.name),
        h(
          "span",
          { class: "site-facts" },
          `main fuse ${amps(site.max_current)} · available ${PHASES.map((p) => amps(effective[p])).join(" / ")}`,
        ),
      ),
    );
  });
  return h(
    "div",
    { class: "sites-page" },
    h("h1", {}, "Sites"),
    items.length
      ? h("ul", { class: "site-list" }, items)
      : h("p", { class: "empty" }, "No sites visible to this token."),
  );
}
