// Adding a charger to a site, the OCPP URL to type into it, and moving a charger to
// another circuit. Adding and moving are technical (service/admin), as the API rules.
import { api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { amps, enumWords, rotationWords, statusClass, statusWord } from "./format.js";
import { settingsForm } from "./forms.js";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

/** A password an installer can type on a charger's keypad or web page: 16 letters and digits. */
export function newPassword() {
  const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"; // no look-alikes
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

function circuitOptions(site, circuits) {
  return [
    { value: "", label: `main fuse (${amps(site.max_current)})` },
    ...circuits.map((c) => ({ value: c.id, label: `${c.name} (${amps(c.max_current)})` })),
  ];
}

/** The "Add a charger" form; `onCreated(charger, password)` after the API made it. */
export function addChargerForm({ site, circuits, onCreated }) {
  let password = "";
  const form = settingsForm({
    id: "new-charger",
    title: "Add a charger",
    fields: [
      { name: "ocpp_id", label: "OCPP id (charge point identity)", kind: "text", value: null, help: "as set in the charger, e.g. its serial number; it ends the OCPP URL" },
      { name: "password", label: "Password", kind: "text", value: null, help: "the charger sends it with HTTP Basic auth (user: its OCPP id); empty: no password (not recommended)" },
      { name: "circuit_id", label: "Circuit", kind: "select", value: "", options: circuitOptions(site, circuits) },
      {
        name: "security_profile",
        label: "Security profile",
        kind: "select",
        value: 1,
        options: [
          { value: 1, label: "1: password, ws or wss" },
          { value: 2, label: "2: password over TLS (wss only)" },
          { value: 3, label: "3: client certificate (wss only)" },
        ],
      },
    ],
    submit: async (changes) => {
      const body = { ...changes, site_id: site.id };
      if (body.circuit_id === "") delete body.circuit_id;
      password = body.password ?? "";
      return api("/chargers", { method: "POST", body });
    },
    onSaved: (charger) => onCreated(charger, password),
  });
  // A generated password, shown once here: the API keeps only its hash.
  const input = form.querySelector("input[name=password]");
  input.after(h("button", { type: "button", name: "generate", onclick: () => { input.value = newPassword(); } }, "Generate"));
  return form;
}

/**
 * The URLs a charger connects to, and where each part comes from. `endpoint` is
 * GET /server/ocpp (or null when the server does not say).
 */
export function ocppUrls(endpoint, ocppId) {
  const id = encodeURIComponent(ocppId);
  const host = location.hostname.includes(":") && !location.hostname.startsWith("[") ? `[${location.hostname}]` : location.hostname;
  if (!endpoint) return { ws: null, wss: null, notes: ["This server does not say its OCPP port: ask its operator (chargegrid serve --ocpp-port, default 9000)."] };
  const path = endpoint.path ?? "/ocpp/";
  const notes = [
    `Host: the address you opened this dashboard at (${location.hostname}); if chargers reach the server by another name or address, use that.`,
    `Port ${endpoint.ws_port}: the server's --ocpp-port.`,
  ];
  if (LOOPBACK.has(endpoint.bind_host)) {
    notes.push(`The server listens on ${endpoint.bind_host} only: a charger on another machine cannot reach it until it is started with --host 0.0.0.0 (or the address to listen on).`);
  }
  let wss = null;
  if (endpoint.public_url) {
    wss = `${endpoint.public_url.replace(/\/?$/, "/")}${id}`;
    notes.push("wss: the server's --ocpp-public-url.");
  } else if (endpoint.wss_port) {
    wss = `wss://${host}:${endpoint.wss_port}${path}${id}`;
    notes.push(`wss port ${endpoint.wss_port}: the server's --ocpp-tls-port; the charger must trust its root certificate (GET /api/v1/pki/root.pem, docs/security.md).`);
  } else if (endpoint.behind_tls_proxy) {
    notes.push("wss goes through your TLS proxy: its address is not known here (start the server with --ocpp-public-url to show it).");
  }
  return { ws: `ws://${host}:${endpoint.ws_port}${path}${id}`, wss, notes };
}

/** What to type into the charger: URLs, user and password (shown once), and why. */
export function connectionPanel({ charger, endpoint, password }) {
  const { ws, wss, notes } = ocppUrls(endpoint, charger.ocpp_id);
  const profile = charger.security_profile ?? 1;
  const rows = [];
  const urlRow = (label, url) =>
    h("div", { class: "url-row" }, h("dt", {}, label), h("dd", {}, h("code", { class: "ocpp-url", dataset: { scheme: label } }, url), copyButton(url)));
  // Profiles 2 and 3 are refused on ws (docs/security.md): then only wss is offered.
  if (ws && profile === 1) rows.push(urlRow("ws", ws));
  if (wss) rows.push(urlRow("wss", wss));
  if (!rows.length) rows.push(h("div", {}, h("dt", {}, "URL"), h("dd", {}, "This server serves no wss, which security profile ", String(profile), " needs: start it with --ocpp-tls-port (docs/security.md).")));
  if (profile !== 3) {
    rows.push(h("div", {}, h("dt", {}, "User"), h("dd", {}, h("code", {}, charger.ocpp_id))));
    rows.push(
      h("div", {}, h("dt", {}, "Password"), h("dd", {}, password ? [h("code", { class: "ocpp-password" }, password), " — shown only now: the server keeps only its hash."] : "none set")),
    );
  }
  return h(
    "section",
    { class: "connection-panel", "aria-label": `Connect ${charger.ocpp_id}` },
    h("h3", {}, `Connect ${charger.ocpp_id}`),
    h("p", {}, "Type this into the charger's OCPP settings (central system / backend URL):"),
    h("dl", {}, rows),
    h("ul", { class: "help" }, notes.map((n) => h("li", {}, n))),
  );
}

function copyButton(text) {
  const button = h("button", { type: "button", class: "small" }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy by hand"; // no clipboard permission (http, not localhost)
    }
  });
  return button;
}

/** One charger on the setup page: where it is, its connectors in words, and "move to". */
export function chargerRow({ charger, site, circuits, rights, onMoved }) {
  const circuitName = circuits.find((c) => c.id === charger.circuit_id)?.name ?? "main fuse";
  const connectors = (charger.evses ?? []).flatMap((evse) =>
    (evse.connectors ?? []).map((c) =>
      h(
        "li",
        {},
        `EVSE ${evse.evse_number}/${c.connector_id}: ${enumWords(c.standard)} ${enumWords(c.format)}, ${enumWords(c.power_type)}, ${amps(c.max_amperage)}`,
        c.phase_rotation ? `, wired ${rotationWords(c.phase_rotation)}` : "",
      ),
    ),
  );
  const move = rights.technical
    ? settingsForm({
        id: "move-charger",
        fields: [{ name: "circuit_id", label: "Move to circuit", kind: "select", value: charger.circuit_id ?? "", options: circuitOptions(site, circuits) }],
        submit: (changes) =>
          api(`/chargers/${charger.id}`, { method: "PATCH", body: { circuit_id: changes.circuit_id === "" ? null : changes.circuit_id } }),
        onSaved: onMoved,
      })
    : null;
  return h(
    "li",
    { class: "setup-charger", dataset: { chargerId: charger.id, ocppId: charger.ocpp_id } },
    h(
      "div",
      { class: "setup-charger-head" },
      h("strong", {}, charger.ocpp_id),
      h("span", { class: `online ${charger.online ? "yes" : "no"}`, dataset: { online: String(charger.online) } }, charger.online ? "online" : "offline"),
      h("span", { class: statusClass(charger.status) }, statusWord(charger.status)),
      h("span", { class: "muted" }, `on ${circuitName}`),
      charger.registration_status && charger.registration_status !== "Accepted" ? h("span", { class: "muted" }, `registration ${charger.registration_status}`) : null,
    ),
    connectors.length ? h("ul", { class: "connectors" }, connectors) : h("p", { class: "help" }, "No connectors reported yet: they appear when the charger connects."),
    move ? h("details", {}, h("summary", {}, "Move to another circuit"), move) : null,
  );
}

/** Replaces `slot`'s content with the connection panel of a charger just added. */
export function showConnection(slot, charger, endpoint, password) {
  replaceChildren(slot, connectionPanel({ charger, endpoint, password }));
}
