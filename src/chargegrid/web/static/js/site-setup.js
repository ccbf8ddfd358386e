// Setting up a site: its settings and main fuse, the available-current override, the
// circuit tree, electricity meters, and its chargers (add one and see the URL to type
// into it, move one to another circuit). Each form is offered only to a role that may
// use it (identity.js rightsOf); the API answers 403 to anything else anyway.
import { api, ApiError, listAll } from "./api.js";
import { addChargerForm, chargerRow, showConnection } from "./charger-form.js";
import { circuitForm, overrideForm } from "./circuit-form.js";
import { h, replaceChildren, setText } from "./dom.js";
import { amps, rotationWords } from "./format.js";
import { settingsForm } from "./forms.js";
import { rightsOf } from "./identity.js";
import { followStream } from "./sse.js";

const REFRESH_DEBOUNCE_MS = 300;
const POLL_MS = 5000; // When the event stream is not available.
const CHARGER_TOPICS = /^charger\.|^config\.changed$/;

/** The "new site" form; `onCreated(site)` once the API made it. */
export function newSiteForm({ onCreated }) {
  return settingsForm({
    id: "new-site",
    title: "Create a site",
    fields: [
      { name: "name", label: "Name", kind: "text", value: null, help: "e.g. the address or the car park" },
      { name: "max_current", label: "Main fuse", unit: "A", value: null, help: "per phase, as rated on the fuse, e.g. 63" },
      { name: "timezone", label: "Time zone", kind: "text", value: Intl.DateTimeFormat().resolvedOptions().timeZone ?? null, help: "IANA name; days and months of reports follow it" },
      { name: "network_type", label: "Network", kind: "select", value: "TN", options: ["TN", "TT", "IT"].map((v) => ({ value: v })) },
      { name: "nominal_voltage", label: "Voltage", unit: "V", value: 230, help: "line to neutral" },
    ],
    submit: (changes) => api("/sites", { method: "POST", body: changes }),
    onSaved: onCreated,
  });
}

/** #/sites/new */
export class NewSitePage {
  constructor(identity) {
    const rights = rightsOf(identity);
    this.el = h(
      "div",
      { class: "setup-page" },
      h("h1", {}, "New site"),
      rights.createSite
        ? h("section", { class: "panel" }, newSiteForm({ onCreated: (site) => { location.hash = `#/sites/${site.id}/setup`; } }))
        : h("p", { class: "empty" }, cannotCreateWords(identity)),
    );
  }

  async start() {
    return { name: "New site" };
  }

  stop() {}
}

/** Why this token may not create sites, and who can. */
export function cannotCreateWords(identity) {
  if (identity?.role === "viewer" || identity?.role === "owner") {
    return `Your role (${identity.role}) cannot create sites: an electrician (service role) or an admin can, here or with POST /api/v1/sites {"name", "max_current"}.`;
  }
  return "This token is limited to some sites, so it could not see a new one: an admin creates sites.";
}

/** #/sites/<id>/setup */
export class SiteSetupPage {
  constructor(siteId, identity) {
    this.siteId = siteId;
    this.identity = identity;
    this.rights = rightsOf(identity);
    this.heading = h("h1", {}, "Set up");
    this.siteSlot = h("div", {});
    this.overrideSlot = h("div", {});
    this.treeSlot = h("div", {});
    this.meterSlot = h("div", {});
    this.chargerSlot = h("div", {});
    this.connectionSlot = h("div", { class: "connection-slot", "aria-live": "polite" });
    this.roleNote = h("p", { class: "help" });
    this.el = h(
      "div",
      { class: "setup-page" },
      h("div", { class: "page-head" }, this.heading, h("a", { href: `#/sites/${siteId}` }, "Live view")),
      this.roleNote,
      h(
        "div",
        { class: "grid" },
        h(
          "div",
          { class: "column" },
          h("section", { class: "panel", "aria-labelledby": "setup-circuits-h" }, h("h2", { id: "setup-circuits-h" }, "Circuits"), this.treeSlot),
          h("section", { class: "panel", "aria-labelledby": "setup-chargers-h" }, h("h2", { id: "setup-chargers-h" }, "Chargers"), this.connectionSlot, this.chargerSlot),
        ),
        h(
          "div",
          { class: "column" },
          h("section", { class: "panel", "aria-labelledby": "setup-site-h" }, h("h2", { id: "setup-site-h" }, "Site"), this.siteSlot),
          h("section", { class: "panel", "aria-labelledby": "setup-override-h" }, h("h2", { id: "setup-override-h" }, "Available current"), this.overrideSlot),
          h("section", { class: "panel", "aria-labelledby": "setup-meters-h" }, h("h2", { id: "setup-meters-h" }, "Electricity meters"), this.meterSlot),
        ),
      ),
    );
    this.streams = [];
    this.timers = [];
    this.chargerShape = "";
  }

  async start() {
    const [site, endpoint] = await Promise.all([api(`/sites/${this.siteId}`), api("/server/ocpp").catch(() => null)]);
    this.site = site;
    this.endpoint = endpoint;
    await this.load();
    if (this.stopped) return site;
    this.renderAll();
    this.follow();
    return site;
  }

  stop() {
    this.stopped = true;
    for (const stream of this.streams) stream.close();
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.refreshTimer);
  }

  async load() {
    const id = this.siteId;
    const [site, circuits, chargers, meters] = await Promise.all([
      api(`/sites/${id}`),
      listAll(`/sites/${id}/circuits`),
      listAll(`/chargers?site_id=${id}`),
      listAll(`/electricity-meters?site_id=${id}`).catch((err) => {
        if (err instanceof ApiError && [403, 404].includes(err.status)) return [];
        throw err;
      }),
    ]);
    chargers.sort((a, b) => a.ocpp_id.localeCompare(b.ocpp_id, undefined, { numeric: true }));
    Object.assign(this, { site, circuits, chargers, meters });
  }

  /** Chargers come and go online while the page is open: re-read them on their events. */
  follow() {
    const soon = () => {
      if (this.refreshTimer || this.stopped) return;
      this.refreshTimer = setTimeout(async () => {
        this.refreshTimer = null;
        try {
          this.chargers = (await listAll(`/chargers?site_id=${this.siteId}`)).sort((a, b) => a.ocpp_id.localeCompare(b.ocpp_id, undefined, { numeric: true }));
          if (!this.stopped) this.renderChargers();
        } catch (err) {
          console.warn("chargegrid: chargers refresh failed", err);
        }
      }, REFRESH_DEBOUNCE_MS);
    };
    this.streams.push(
      followStream("/events/stream", {
        onMessage: (event) => {
          if (CHARGER_TOPICS.test(event)) soon();
        },
        onStatus: (status) => {
          if (status === "unavailable" || status === "forbidden") this.timers.push(setInterval(soon, POLL_MS));
        },
      }),
    );
  }

  /** Everything after a change to the tree: circuits feed every select on the page. */
  async reload() {
    await this.load();
    if (!this.stopped) this.renderAll();
  }

  renderAll() {
    const { site, rights } = this;
    setText(this.heading, `Set up ${site.name}`);
    setText(
      this.roleNote,
      !rights.write
        ? `Your role (${this.identity.role}) may look but not change anything here.`
        : !rights.technical
          ? `Your role (${this.identity.role}) may change names, priorities and available current; fuses, wiring, circuits and chargers are for electricians (service) and admins.`
          : "",
    );
    this.renderSite();
    this.renderTree();
    this.renderMeters();
    this.renderChargers(true);
  }

  renderSite() {
    const { site, rights } = this;
    const facts = h(
      "p",
      { class: "facts" },
      `Main fuse ${amps(site.max_current)} per phase · ${site.nominal_voltage} V ${site.network_type} · ${site.timezone}`,
    );
    if (!rights.write) return replaceChildren(this.siteSlot, facts);
    const form = settingsForm({
      id: "setup-site",
      fields: [
        { name: "name", label: "Name", kind: "text", value: site.name },
        { name: "timezone", label: "Time zone", kind: "text", value: site.timezone },
        ...(rights.technical
          ? [
              { name: "max_current", label: "Main fuse", unit: "A", value: site.max_current, help: "per phase" },
              { name: "network_type", label: "Network", kind: "select", value: site.network_type, options: ["TN", "TT", "IT"].map((v) => ({ value: v })) },
              { name: "nominal_voltage", label: "Voltage", unit: "V", value: site.nominal_voltage, help: "line to neutral" },
              {
                name: "electricity_meter_id",
                label: "Grid meter",
                kind: "select",
                value: site.electricity_meter_id ?? "",
                options: [{ value: "", label: "none" }, ...this.meters.map((m) => ({ value: m.id, label: m.name }))],
                help: "measures the whole site's other (unmanaged) load",
              },
            ]
          : []),
      ],
      submit: (changes) => api(`/sites/${site.id}`, { method: "PATCH", body: blankToNull(changes) }),
      onSaved: () => this.reload(),
    });
    replaceChildren(this.siteSlot, facts, form);
    replaceChildren(
      this.overrideSlot,
      rights.write
        ? overrideForm({ node: site, path: `/sites/${site.id}`, fuseWords: "the main fuse", onSaved: (s) => { this.site = s; } })
        : h("p", {}, `${amps(site.max_current)} per phase.`),
    );
  }

  renderTree() {
    const { site, circuits, chargers, rights } = this;
    const children = (parentId) => circuits.filter((c) => (c.parent_id ?? null) === parentId);
    const countOn = (id) => chargers.filter((c) => (c.circuit_id ?? null) === id).length;
    const node = (circuit) =>
      h(
        "li",
        { class: "setup-circuit", dataset: { circuitId: circuit.id, circuitName: circuit.name } },
        h(
          "div",
          { class: "node-head" },
          h("span", { class: "node-name" }, circuit.name),
          h("span", { class: "node-kind" }, `${amps(circuit.max_current)} · ${circuit.phases} phase${circuit.phases === 1 ? "" : "s"} · ${rotationWords(circuit.phase_rotation)}`),
          h("span", { class: "node-chargers" }, `${countOn(circuit.id)} charger(s)`),
        ),
        rights.write ? this.circuitEditors(circuit) : null,
        children(circuit.id).length ? h("ul", {}, children(circuit.id).map(node)) : null,
      );
    const tree = h(
      "ul",
      { class: "tree setup-tree" },
      h(
        "li",
        { class: "node" },
        h("div", { class: "node-head" }, h("span", { class: "node-name" }, "Main fuse"), h("span", { class: "node-kind" }, `${amps(site.max_current)} per phase`), h("span", { class: "node-chargers" }, `${countOn(null)} charger(s)`)),
        children(null).length ? h("ul", {}, children(null).map(node)) : h("p", { class: "empty" }, "No circuits yet: chargers hang directly on the main fuse."),
      ),
    );
    const add = rights.technical
      ? h("details", { class: "settings-panel", open: circuits.length === 0 }, h("summary", {}, "Add a circuit"), circuitForm({ site, circuits, meters: this.meters, rights, onSaved: () => this.reload() }))
      : null;
    replaceChildren(this.treeSlot, tree, add);
  }

  circuitEditors(circuit) {
    const { site, circuits, rights } = this;
    const remove = rights.technical ? deleteButton(`/circuits/${circuit.id}`, `Delete ${circuit.name}`, () => this.reload()) : null;
    return h(
      "details",
      { class: "settings-panel" },
      h("summary", {}, `Edit ${circuit.name}`),
      circuitForm({ site, circuits, meters: this.meters, circuit, rights, onSaved: () => this.reload() }),
      h("h4", {}, "Available current"),
      overrideForm({ node: circuit, path: `/circuits/${circuit.id}`, fuseWords: "the circuit's fuse" }),
      remove,
    );
  }

  renderMeters() {
    const { meters, rights, site } = this;
    const list = meters.length
      ? h("ul", {}, meters.map((m) => h("li", {}, m.name, h("span", { class: "muted" }, m.last_reading ? ` · last reading ${new Date(m.last_reading.timestamp).toLocaleString()}` : " · no reading yet"))))
      : h("p", { class: "empty" }, "No meters. A meter measures load the chargers do not cause (the building) so chargers get only what is left.");
    const add = rights.technical
      ? settingsForm({
          id: "new-meter",
          title: "Add a meter",
          fields: [
            { name: "name", label: "Name", kind: "text", value: null },
            { name: "max_age_s", label: "Stale after", unit: "s", value: null, help: "older readings do not count; empty: the server's default" },
          ],
          submit: (changes) => api("/electricity-meters", { method: "POST", body: { ...changes, site_id: site.id } }),
          onSaved: () => this.reload(),
        })
      : null;
    replaceChildren(this.meterSlot, list, add, h("p", { class: "help" }, "Readings arrive through POST /api/v1/electricity-meters/{id}/readings."));
  }

  /** `force`: after the user's own change; else only when something shown changed, and
   * never under the user's typing (a live event must not eat a half-filled form). */
  renderChargers(force = false) {
    const { site, circuits, chargers, rights } = this;
    const shape = JSON.stringify(chargers.map((c) => [c.id, c.online, c.status, c.circuit_id, c.evses?.length]));
    if (!force && (shape === this.chargerShape || this.chargerSlot.contains(document.activeElement))) return;
    this.chargerShape = shape;
    const list = chargers.length
      ? h("ul", { class: "setup-chargers" }, chargers.map((charger) => chargerRow({ charger, site, circuits, rights, onMoved: () => this.reload() })))
      : h("p", { class: "empty" }, "No chargers on this site yet.");
    const add = rights.technical
      ? h(
          "details",
          { class: "settings-panel", open: chargers.length === 0 },
          h("summary", {}, "Add a charger"),
          addChargerForm({
            site,
            circuits,
            onCreated: (charger, password) => {
              showConnection(this.connectionSlot, charger, this.endpoint, password);
              this.reload();
            },
          }),
        )
      : null;
    replaceChildren(this.chargerSlot, list, add);
  }
}

function blankToNull(changes) {
  return Object.fromEntries(Object.entries(changes).map(([k, v]) => [k, v === "" ? null : v]));
}

function deleteButton(path, label, onDeleted) {
  const status = h("p", { class: "form-status", role: "status" });
  const button = h("button", { type: "button", class: "danger" }, label);
  button.addEventListener("click", async () => {
    if (!window.confirm(`${label}?`)) return;
    button.disabled = true;
    try {
      await api(path, { method: "DELETE" });
      onDeleted();
    } catch (err) {
      status.textContent = err.message; // e.g. 409: chargers are attached to the circuit
      status.className = "form-status error";
      button.disabled = false;
    }
  });
  return h("div", { class: "buttons" }, button, status);
}
