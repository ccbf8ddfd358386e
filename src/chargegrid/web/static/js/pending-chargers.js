// Chargers that connected on their own (`chargegrid serve --auto-register`) and wait
// `Pending` until an operator accepts them onto a site and circuit, or rejects them.
// Accepting is placing a charger in the fuse tree, so it is technical (service/admin);
// unplaced chargers are visible to unscoped tokens only (services/configure/chargers.py).
import { api, listAll } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { amps, clock } from "./format.js";
import { settingsForm } from "./forms.js";
import { rightsOf } from "./identity.js";

const POLL_MS = 3000; // A charger that boots Pending shows up without a reload.

export class PendingChargersPage {
  constructor(identity) {
    this.rights = rightsOf(identity);
    this.list = h("div", { class: "pending-list" });
    this.intro = h("p", { class: "help" });
    this.el = h(
      "div",
      { class: "pending-page" },
      h("h1", {}, "Pending chargers"),
      this.intro,
      h("section", { class: "panel" }, this.list),
    );
    this.shown = null;
  }

  async start() {
    const [endpoint, sites] = await Promise.all([api("/server/ocpp").catch(() => null), listAll("/sites")]);
    this.sites = sites;
    this.circuits = new Map(
      await Promise.all(sites.map(async (s) => [s.id, await listAll(`/sites/${s.id}/circuits`)])),
    );
    this.intro.textContent =
      endpoint && !endpoint.auto_register
        ? "This server refuses chargers it does not know (it was not started with --auto-register): add chargers on a site's setup page instead. Chargers already waiting are listed below."
        : "A charger that connects with an OCPP id the server does not know waits here (it boots Pending and asks again every 30 s) until you accept it onto a site and circuit, or reject it.";
    await this.refresh();
    this.timer = setInterval(() => this.refresh().catch(() => {}), POLL_MS);
    return { name: "Pending chargers" };
  }

  stop() {
    clearInterval(this.timer);
    this.stopped = true;
  }

  async refresh() {
    const chargers = (await listAll("/chargers")).filter((c) => c.registration_status === "Pending");
    if (this.stopped) return;
    // Rebuilt only when the set changes, so a form being filled in is never replaced.
    const shape = chargers.map((c) => `${c.id}:${c.online}`).join(",");
    if (shape === this.shown) return;
    this.shown = shape;
    if (!this.rights.seesUnplaced) {
      replaceChildren(this.list, h("p", { class: "empty" }, "Chargers waiting unplaced are visible to tokens without a site scope only."));
      return;
    }
    replaceChildren(
      this.list,
      chargers.length
        ? h("ul", { class: "pending" }, chargers.map((c) => this.item(c)))
        : h("p", { class: "empty" }, "No charger is waiting."),
    );
  }

  item(charger) {
    const facts = [
      [charger.vendor, charger.model].filter(Boolean).join(" "),
      charger.serial_number ? `serial ${charger.serial_number}` : "",
      charger.ocpp_version ? `OCPP ${charger.ocpp_version}` : "",
      charger.online ? "connected now" : `last seen ${clock(charger.last_seen_at)}`,
    ].filter(Boolean);
    const forms = this.rights.technical ? [this.acceptForm(charger), this.rejectButton(charger)] : [h("p", { class: "help" }, "Accepting or rejecting a charger needs the service or admin role.")];
    return h(
      "li",
      { class: "pending-charger", dataset: { ocppId: charger.ocpp_id } },
      h("h2", {}, charger.ocpp_id),
      h("p", { class: "facts" }, facts.join(" · ")),
      forms,
    );
  }

  acceptForm(charger) {
    const placements = this.sites.flatMap((site) => [
      { value: `${site.id}/`, label: `${site.name}: main fuse (${amps(site.max_current)})` },
      ...(this.circuits.get(site.id) ?? []).map((c) => ({ value: `${site.id}/${c.id}`, label: `${site.name}: ${c.name} (${amps(c.max_current)})` })),
    ]);
    if (!placements.length) return h("p", { class: "help" }, "Create a site first: a charger is accepted onto a site.");
    return settingsForm({
      id: "accept-charger",
      fields: [{ name: "placement", label: "Accept onto", kind: "select", value: null, nullable: true, options: placements }],
      submit: (changes) => {
        const [siteId, circuitId] = String(changes.placement ?? "").split("/");
        const body = { registration_status: "Accepted", site_id: siteId || null, circuit_id: circuitId || null };
        return api(`/chargers/${charger.id}`, { method: "PATCH", body });
      },
      onSaved: () => {
        this.shown = null;
        this.refresh().catch(() => {});
      },
    });
  }

  rejectButton(charger) {
    const status = h("p", { class: "form-status", role: "status" });
    const button = h("button", { type: "button", name: "reject" }, "Reject");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api(`/chargers/${charger.id}`, { method: "PATCH", body: { registration_status: "Rejected" } });
        this.shown = null;
        await this.refresh();
      } catch (err) {
        status.textContent = err.message;
        status.className = "form-status error";
        button.disabled = false;
      }
    });
    return h("div", { class: "buttons" }, button, status);
  }
}
