// Chargers and their EVSEs: status in OCPI colours, the allocator's limit, phases,
// measured current and reason, and the settings forms this role may use.
import { api } from "./api.js";
import { h, replaceChildren, setText } from "./dom.js";
import { chargerFlags, flagBadges, notFollowingIds } from "./charger-flags.js";
import { amps, deadlineWords, enumWords, PHASE_LABEL, rotationWords, PHASES, reasonWords, sourceWords, statusClass, statusWord } from "./format.js";
import { settingsForm } from "./forms.js";

const CONNECTOR_STANDARDS = [
  "IEC_62196_T2", "IEC_62196_T2_COMBO", "IEC_62196_T1", "IEC_62196_T1_COMBO", "CHADEMO",
  "GBT_AC", "GBT_DC", "IEC_62196_T3A", "IEC_62196_T3C", "DOMESTIC_F", "TESLA_S", "NEMA_5_20",
];
const POWER_TYPES = ["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"];
const ROTATIONS = [
  "RST", "RTS", "SRT", "STR", "TRS", "TSR", "RS", "RT", "SR", "ST", "TR", "TS", "R", "S", "T",
];
// Connector enums shown as words ("IEC 62196 Type 2"), sent as the API's values.
const options = (values) => values.map((value) => ({ value, label: enumWords(value) }));

export class ChargerList {
  /** `rights()` is {write, technical}: which settings this role may change. */
  constructor({ rights, onChanged }) {
    this.rights = rights;
    this.onChanged = onChanged;
    this.el = h("div", { class: "chargers" });
    this.cards = new Map(); // charger id -> card
  }

  update({ chargers, evses, loadSessions, circuitName, nodeName }) {
    this.notFollowing = notFollowingIds({ sessions: loadSessions });
    const bySlot = new Map(loadSessions.map((s) => [`${s.charger_id}/${s.evse_number}`, s]));
    const seen = new Set();
    for (const charger of chargers) {
      seen.add(charger.id);
      let card = this.cards.get(charger.id);
      if (!card) {
        card = new ChargerCard(charger, this);
        this.cards.set(charger.id, card);
      }
      card.update(charger, evses.get(charger.id) ?? [], bySlot, circuitName, nodeName);
    }
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) {
        card.el.remove();
        this.cards.delete(id);
      }
    }
    const order = chargers.map((c) => this.cards.get(c.id).el);
    if (!order.length) replaceChildren(this.el, h("p", { class: "empty" }, "No chargers on this site yet."));
    else if (order.some((el, i) => this.el.children[i] !== el)) replaceChildren(this.el, order);
  }
}

class ChargerCard {
  constructor(charger, list) {
    this.list = list;
    this.id = charger.id;
    this.link = h("a", { href: `#/chargers/${charger.id}` }, charger.ocpp_id);
    this.title = h("h3", {}, this.link);
    this.flags = h("span", { class: "flags" });
    this.online = h("span", { class: "online" });
    this.status = h("span", {});
    this.facts = h("p", { class: "facts" });
    this.evseBody = h("tbody", {});
    this.evseShape = "";
    this.forms = h("div", { class: "card-forms" });
    this.el = h(
      "article",
      { class: "charger", dataset: { chargerId: charger.id } },
      h("header", {}, this.title, this.online, this.status, this.flags),
      this.facts,
      h(
        "table",
        { class: "evses" },
        h(
          "thead",
          {},
          h("tr", {}, ["EVSE", "Status", "Limit", "Phases", "Measured", "Reason", "Deadline"].map((t) => h("th", {}, t))),
        ),
        this.evseBody,
      ),
      this.forms,
    );
    this.rows = new Map();
  }

  update(charger, evses, bySlot, circuitName, nodeName) {
    setText(this.link, charger.ocpp_id);
    const flags = chargerFlags(charger, this.list.notFollowing);
    if (this.flags.dataset.shown !== flags.join(",")) {
      this.flags.dataset.shown = flags.join(",");
      replaceChildren(this.flags, flagBadges(flags, charger));
      this.el.classList.toggle("attention", flags.length > 0);
    }
    this.online.className = `online ${charger.online ? "yes" : "no"}`;
    setText(this.online, charger.online ? "online" : "offline");
    this.status.className = statusClass(charger.status);
    setText(this.status, statusWord(charger.status));
    const facts = [
      [charger.vendor, charger.model].filter(Boolean).join(" "),
      charger.firmware_version ? `fw ${charger.firmware_version}` : "",
      charger.ocpp_version ? `OCPP ${charger.ocpp_version}` : "",
      `circuit: ${circuitName(charger.circuit_id) ?? "main fuse"}`,
      charger.max_charge_current != null ? `max ${amps(charger.max_charge_current)}` : "",
      charger.config_sync && charger.config_sync !== "applied" ? `settings ${charger.config_sync}` : "",
    ];
    setText(this.facts, facts.filter(Boolean).join(" · "));

    const shape = JSON.stringify(evses.map((e) => [e.id, e.evse_number]));
    if (shape !== this.evseShape) {
      this.evseShape = shape;
      this.rows.clear();
      replaceChildren(this.evseBody, evses.map((evse) => this.makeRow(evse)));
      if (!evses.length) this.evseBody.append(h("tr", {}, h("td", { colspan: "6" }, "No EVSEs reported yet.")));
    }
    for (const evse of evses) {
      this.fillRow(this.rows.get(evse.id), evse, bySlot.get(`${charger.id}/${evse.evse_number}`), nodeName);
    }
    this.charger = charger;
    this.evses = evses;
    this.buildForms();
  }

  makeRow(evse) {
    const cells = {
      name: h("td", { dataset: { label: "EVSE" } }),
      status: h("td", { dataset: { label: "Status" } }),
      limit: h("td", { class: "num", dataset: { label: "Limit" } }),
      phases: h("td", { dataset: { label: "Phases" } }),
      measured: h("td", { class: "num", dataset: { label: "Measured" } }),
      reason: h("td", { class: "reason", dataset: { label: "Reason" } }),
      deadline: h("td", { class: "deadline", dataset: { label: "Deadline" } }),
    };
    const row = h("tr", { dataset: { evseId: evse.id, evseNumber: evse.evse_number } }, Object.values(cells));
    this.rows.set(evse.id, cells);
    return row;
  }

  fillRow(cells, evse, session, nodeName) {
    setText(cells.name, evse.evse_id ? `${evse.evse_number} (${evse.evse_id})` : String(evse.evse_number));
    const badge = h("span", { class: statusClass(evse.status) }, statusWord(evse.status));
    if (cells.status.textContent !== badge.textContent || cells.status.firstChild?.className !== badge.className) {
      replaceChildren(cells.status, badge);
    }
    setText(cells.limit, session ? amps(session.limit) : "—");
    cells.limit.dataset.limit = session ? String(session.limit) : "";
    const grid = (session?.grid_phases ?? []).map((p) => PHASE_LABEL[p] ?? p).join(" ");
    setText(cells.phases, session ? `${session.phases}φ${grid ? ` ${grid}` : ""}` : "—");
    const measured = session?.measured ?? {};
    const shown = PHASES.filter((p) => measured[p] != null).map((p) => `${PHASE_LABEL[p]} ${amps(measured[p])}`);
    // A meter that reports no current: say what the amperes were worked out from.
    const from = shown.length ? sourceWords(session?.measured_source) : "";
    setText(cells.measured, shown.length ? shown.join(" · ") + (from ? ` (${from})` : "") : "—");
    setText(cells.reason, session ? reasonWords(session.reason, nodeName) : "—");
    cells.reason.classList.toggle("alert", session?.reason === "not_following_limit");
    // When it leaves, what it wants, and who said so (docs/deadlines.md).
    setText(cells.deadline, deadlineWords(session) || "—");
  }

  /** Forms are built once per card (and per EVSE set) so live updates never eat typing. */
  buildForms() {
    const rights = this.list.rights();
    const key = `${rights.write}|${rights.technical}|${this.evseShape}`;
    if (this.formKey === key || this.forms.contains(document.activeElement)) return;
    this.formKey = key;
    replaceChildren(
      this.forms,
      chargerSettingsPanels({ charger: this.charger, evses: this.evses, rights, onSaved: () => this.list.onChanged() }),
    );
  }
}

/**
 * The settings a role may change on one charger, its EVSEs and connectors, as folded
 * panels (the site's charger cards and the charger page share them). `rights` is
 * {write, technical}; nothing is offered without write.
 */
export function chargerSettingsPanels({ charger, evses = [], rights, onSaved }) {
  if (!rights.write) return [];
  const saved = () => onSaved();
  const chargerForm = settingsForm({
    id: "charger",
    fields: [
      { name: "max_charge_current", label: "Max charge current", unit: "A", value: charger.max_charge_current, help: "0–32 A; empty: the charger's own maximum" },
      { name: "min_charge_current", label: "Min charge current", unit: "A", value: charger.min_charge_current, help: "below it a car gets nothing (IEC 61851)" },
      { name: "max_charge_phases", label: "Max phases", kind: "select", value: charger.max_charge_phases, options: [{ value: 1, label: "1 phase" }, { value: 3, label: "3 phases" }] },
      { name: "offline_charge_current", label: "Offline current", unit: "A", value: charger.offline_charge_current, help: "-1: computed so offline chargers never trip a fuse" },
      {
        name: "offline_charge_phase", label: "Offline phase", kind: "select", value: charger.offline_charge_phase,
        options: [{ value: 0, label: "automatic" }, { value: 1, label: "L1" }, { value: 2, label: "L2" }, { value: 4, label: "L3" }, { value: 7, label: "all" }],
      },
      { name: "meter_value_interval", label: "Meter values every", unit: "s", value: charger.meter_value_interval, help: "0 turns periodic meter values off" },
      { name: "priority", label: "Priority weight", value: charger.priority, help: "2 gets twice the share of 1" },
    ],
    submit: (changes) => api(`/chargers/${charger.id}`, { method: "PATCH", body: changes }),
    onSaved: saved,
  });
  const evseForms = evses.map((evse) =>
    h(
      "div",
      { class: "evse-forms", dataset: { evseId: evse.id } },
      h("h4", {}, `EVSE ${evse.evse_number}`),
      settingsForm({
        id: "evse",
        fields: [
          { name: "enabled", label: "Enabled", kind: "checkbox", value: evse.enabled ?? true },
          ...(rights.technical
            ? [{ name: "evse_id", label: "EVSE ID (eMI3)", kind: "text", value: evse.evse_id, nullable: true, help: "e.g. DK*123*E1" }]
            : []),
          { name: "physical_reference", label: "Physical reference", kind: "text", value: evse.physical_reference, nullable: true },
        ],
        submit: (changes) => api(`/evses/${evse.id}`, { method: "PATCH", body: changes }),
        onSaved: saved,
      }),
      // Connector wiring and ratings are for electricians (service) and admins.
      rights.technical ? (evse.connectors ?? []).map((connector) => connectorForm(evse, connector, saved)) : null,
    ),
  );
  return [
    h("details", { class: "settings-panel", dataset: { panel: "charger" } }, h("summary", {}, "Charger settings"), chargerForm),
    evseForms.length
      ? h("details", { class: "settings-panel", dataset: { panel: "connectors" } }, h("summary", {}, rights.technical ? "EVSE and connector settings" : "EVSE settings"), evseForms)
      : null,
  ];
}

function connectorForm(evse, connector, saved) {
  return settingsForm({
    id: "connector",
    title: `Connector ${connector.connector_id}`,
    fields: [
      { name: "standard", label: "Standard", kind: "select", value: connector.standard, options: options(withCurrent(CONNECTOR_STANDARDS, connector.standard)) },
      { name: "format", label: "Format", kind: "select", value: connector.format, options: options(["SOCKET", "CABLE"]) },
      { name: "power_type", label: "Power type", kind: "select", value: connector.power_type, options: options(POWER_TYPES) },
      { name: "phase_rotation", label: "Phase rotation", kind: "select", value: connector.phase_rotation, nullable: true, options: ROTATIONS.map((value) => ({ value, label: rotationWords(value) })), help: "terminal 1,2,3 → R S T of the circuit" },
      { name: "max_amperage", label: "Max amperage", unit: "A", value: connector.max_amperage },
      { name: "max_voltage", label: "Max voltage", unit: "V", value: connector.max_voltage },
      { name: "max_electric_power", label: "Max power", unit: "W", value: connector.max_electric_power },
    ],
    submit: (changes) =>
      api(`/evses/${evse.id}/connectors/${connector.connector_id}`, { method: "PATCH", body: changes }),
    onSaved: saved,
  });
}

function withCurrent(values, current) {
  return current && !values.includes(current) ? [...values, current] : values;
}
