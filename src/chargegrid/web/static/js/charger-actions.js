// Commands to one charger (POST /chargers/{id}/actions/<action>) and what it answered.
// The bodies are the same on OCPP 1.6 and 2.0.1; only trigger messages and "read the
// configuration" differ by version. The answer shown is the charger's own words; a
// refusal by the server (offline: 409, no answer: 504, a CallError: 502, a bad field:
// 422) is shown as the server's problem+json, next to the field it names.
import { api, ApiError } from "./api.js";
import { h, replaceChildren } from "./dom.js";

const TRIGGERS_16 = [
  "StatusNotification", "MeterValues", "Heartbeat", "BootNotification",
  "DiagnosticsStatusNotification", "FirmwareStatusNotification",
];
const TRIGGERS_201 = [
  "StatusNotification", "MeterValues", "TransactionEvent", "Heartbeat", "BootNotification",
  "LogStatusNotification", "FirmwareStatusNotification", "SignChargingStationCertificate",
  "PublishFirmwareStatusNotification",
];
let formCount = 0;

export class ChargerActions {
  /** `onDone(action, answer)` runs after the charger answered (e.g. to re-read sessions). */
  constructor({ onDone = () => {} } = {}) {
    this.onDone = onDone;
    this.log = h("ol", { class: "action-log", "aria-label": "Answers so far" });
    this.slot = h("div", { class: "action-forms" });
    this.el = h(
      "div",
      { class: "charger-actions" },
      this.slot,
      h("h3", { class: "action-log-title" }, "Answers"),
      this.log,
    );
    this.shape = "";
    this.stopSelect = null;
  }

  /** (Re)builds the forms when the charger's shape changes; keeps typed values otherwise. */
  update({ charger, evses, activeSessions, idTags = [], canCommand }) {
    this.charger = charger;
    const shape = JSON.stringify([charger.id, charger.ocpp_version, canCommand, evses.map((e) => e.evse_number)]);
    if (shape !== this.shape) {
      this.shape = shape;
      this.build(charger, evses, idTags, canCommand);
    }
    this.fillSessions(activeSessions);
  }

  build(charger, evses, idTags, canCommand) {
    if (!canCommand) {
      replaceChildren(this.slot, h("p", { class: "empty" }, "Your role can look but not send commands to chargers."));
      return;
    }
    const numbers = evses.map((e) => e.evse_number);
    const evseOptions = (whole) => [
      ...(whole ? [{ value: "", label: whole }] : []),
      ...numbers.map((n) => ({ value: String(n), label: `EVSE ${n}` })),
    ];
    const tagList = h("datalist", { id: `id-tags-${charger.id}` }, idTags.map((t) => h("option", { value: t.id_tag })));
    this.stopSelect = null;
    const v201 = (charger.ocpp_version ?? "").startsWith("2");
    const forms = [
      this.form({
        action: "remote-start",
        title: "Remote start",
        help: "Starts a session with this id tag, as if it were presented at the charger.",
        fields: [
          { name: "id_tag", label: "Id tag", list: tagList.id, required: true },
          { name: "evse_number", label: "EVSE", kind: "select", options: evseOptions("any free") },
        ],
        body: (v) => ({ id_tag: v.id_tag, ...(v.evse_number ? { evse_number: Number(v.evse_number) } : {}) }),
        button: "Start",
      }),
      this.form({
        action: "remote-stop",
        title: "Remote stop",
        fields: [{ name: "session_id", label: "Session", kind: "select", options: [] }],
        body: (v) => ({ session_id: v.session_id }),
        button: "Stop",
      }),
      this.form({
        action: "reset",
        title: "Reset",
        help: "Soft: when idle, sessions stopped first. Hard: at once.",
        fields: [
          { name: "type", label: "Kind", kind: "select", options: [{ value: "soft", label: "soft" }, { value: "hard", label: "hard" }] },
        ],
        body: (v) => ({ type: v.type }),
        button: "Reset",
        confirm: (v) => `Reset ${charger.ocpp_id} (${v.type})? Sessions on it stop.`,
      }),
      this.form({
        action: "unlock",
        title: "Unlock connector",
        fields: [
          { name: "evse_number", label: "EVSE", kind: "select", options: evseOptions(null) },
          { name: "connector_id", label: "Connector", value: "1", inputmode: "numeric" },
        ],
        body: (v) => ({ evse_number: Number(v.evse_number), connector_id: numberOrText(v.connector_id) }),
        button: "Unlock",
      }),
      this.form({
        action: "change-availability",
        title: "Availability",
        fields: [
          { name: "evse_number", label: "Where", kind: "select", options: [{ value: "0", label: "whole charger" }, ...evseOptions(null)] },
          { name: "type", label: "Make it", kind: "select", options: [{ value: "inoperative", label: "inoperative (out of use)" }, { value: "operative", label: "operative" }] },
        ],
        body: (v) => ({ evse_number: Number(v.evse_number), type: v.type }),
        button: "Change",
      }),
      this.form({
        action: "trigger-message",
        title: "Trigger message",
        help: "Asks the charger to send this message now.",
        fields: [
          { name: "message", label: "Message", kind: "select", options: (v201 ? TRIGGERS_201 : TRIGGERS_16).map((m) => ({ value: m })) },
          { name: "evse_number", label: "EVSE", kind: "select", options: evseOptions("whole charger") },
        ],
        body: (v) => ({ message: v.message, ...(v.evse_number ? { evse_number: Number(v.evse_number) } : {}) }),
        button: "Trigger",
      }),
      v201
        ? this.form({
            action: "get-variables",
            title: "Read a variable",
            help: "OCPP 2.0.1 device model, e.g. OCPPCommCtrlr / HeartbeatInterval.",
            fields: [
              { name: "component", label: "Component", value: "OCPPCommCtrlr", required: true },
              { name: "variable", label: "Variable", value: "HeartbeatInterval", required: true },
            ],
            body: (v) => ({ variables: [{ component: v.component, variable: v.variable }] }),
            button: "Read",
          })
        : this.form({
            action: "get-configuration",
            title: "Read configuration",
            help: "Keys separated by commas; empty: every key.",
            fields: [{ name: "keys", label: "Keys" }],
            body: (v) => {
              const keys = v.keys.split(",").map((k) => k.trim()).filter(Boolean);
              return keys.length ? { keys } : {};
            },
            button: "Read",
          }),
    ];
    replaceChildren(this.slot, tagList, forms);
  }

  fillSessions(sessions) {
    if (!this.stopSelect) return;
    const shape = sessions.map((s) => s.id).join(",");
    if (this.stopSelect.dataset.shape === shape) return;
    this.stopSelect.dataset.shape = shape;
    const chosen = this.stopSelect.value;
    replaceChildren(
      this.stopSelect,
      sessions.length
        ? sessions.map((s) =>
            h("option", { value: s.id }, `EVSE ${s.evse_number} · ${s.id_tag ?? "no tag"} · since ${new Date(s.started_at).toLocaleTimeString()}`),
          )
        : h("option", { value: "" }, "no session running"),
    );
    if (sessions.some((s) => s.id === chosen)) this.stopSelect.value = chosen;
    this.stopSelect.closest("form").querySelector("button[type=submit]").disabled = !sessions.length;
  }

  /** One action: its fields, a button, and where the charger's answer appears. */
  form({ action, title, help, fields, body, button, confirm }) {
    const prefix = `action-${action}-${++formCount}`;
    const inputs = new Map();
    const slots = new Map();
    const answer = h("div", { class: "action-answer", role: "status", "aria-live": "polite" });
    const rows = fields.map((field) => {
      const id = `${prefix}-${field.name}`;
      const error = h("p", { class: "field-error", id: `${id}-error`, dataset: { field: field.name } });
      const common = { id, name: field.name, "aria-describedby": `${id}-error` };
      const input =
        field.kind === "select"
          ? h("select", common, field.options.map((o) => h("option", { value: o.value }, o.label ?? o.value)))
          : h("input", {
              ...common,
              type: "text",
              value: field.value ?? "",
              list: field.list,
              required: field.required,
              inputmode: field.inputmode,
              autocomplete: "off",
              spellcheck: "false",
            });
      if (action === "remote-stop" && field.name === "session_id") this.stopSelect = input;
      inputs.set(field.name, input);
      slots.set(field.name, error);
      return h("div", { class: "field" }, h("label", { for: id }, field.label), input, error);
    });
    const submit = h("button", { type: "submit", class: "primary" }, button);
    const form = h(
      "form",
      { class: "action", novalidate: true, dataset: { action } },
      h("h3", {}, title),
      help ? h("p", { class: "help" }, help) : null,
      h("div", { class: "action-fields" }, rows),
      h("div", { class: "buttons" }, submit),
      answer,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = Object.fromEntries([...inputs].map(([name, input]) => [name, input.value.trim()]));
      const missing = fields.filter((f) => f.required && !values[f.name]);
      clear();
      if (missing.length) {
        for (const f of missing) fieldError(f.name, "Required.");
        return;
      }
      if (confirm && !window.confirm(confirm(values))) return;
      submit.disabled = true;
      answer.textContent = "Waiting for the charger…";
      answer.className = "action-answer waiting";
      try {
        const reply = await api(`/chargers/${this.charger.id}/actions/${action}`, { method: "POST", body: body(values) });
        showAnswer(reply);
        this.record(title, reply?.status ?? "answered", reply?.status === "Accepted" ? "ok" : "refused");
        this.onDone(action, reply);
      } catch (err) {
        showProblem(err);
      } finally {
        submit.disabled = false;
      }
    });

    const clear = () => {
      for (const [name, slot] of slots) {
        slot.replaceChildren();
        inputs.get(name).removeAttribute("aria-invalid");
      }
      answer.replaceChildren();
      answer.className = "action-answer";
    };
    const fieldError = (name, message) => {
      slots.get(name).textContent = message;
      inputs.get(name).setAttribute("aria-invalid", "true");
    };
    const showAnswer = (reply) => {
      const status = reply?.status ?? null;
      answer.className = `action-answer ${status === "Accepted" ? "ok" : "refused"}`;
      answer.dataset.status = status ?? "answered"; // get-configuration answers have no status
      replaceChildren(
        answer,
        h("p", {}, `${this.charger.ocpp_id} answered: `, h("strong", {}, status ?? "(no status)")),
        answerDetails(reply),
      );
    };
    const showProblem = (err) => {
      if (!(err instanceof ApiError)) {
        answer.textContent = String(err.message || err);
        answer.className = "action-answer error";
        return;
      }
      for (const name of slots.keys()) {
        const messages = err.messagesFor(name);
        if (messages.length) fieldError(name, messages.join(" "));
      }
      const general = err.unclaimedMessages([...slots.keys()]);
      const head = err.status === 403 ? "Your role may not do this." : `${err.title} (HTTP ${err.status})`;
      answer.className = "action-answer error";
      answer.dataset.status = `http-${err.status}`;
      replaceChildren(answer, h("p", {}, h("strong", {}, head), err.detail ? ` ${err.detail}` : ""), general.length ? h("p", {}, general.join(" ")) : null);
      this.record(title, `HTTP ${err.status}: ${err.detail || err.title}`, "error");
    };
    return form;
  }

  record(title, words, kind) {
    const at = new Date().toLocaleTimeString();
    this.log.prepend(h("li", { class: kind }, `${at} ${title}: ${words}`));
    while (this.log.children.length > 20) this.log.lastChild.remove();
  }
}

function numberOrText(raw) {
  const n = Number(raw);
  return raw !== "" && Number.isFinite(n) ? n : raw; // Sent as typed: the API names what is wrong.
}

/** What else the charger said: configuration keys, variables, or any other field. */
function answerDetails(reply) {
  if (!reply || typeof reply !== "object") return null;
  const keys = reply.configuration_key ?? reply.configurationKey;
  if (Array.isArray(keys)) {
    const unknown = reply.unknown_key ?? reply.unknownKey ?? [];
    return [
      h(
        "table",
        { class: "answer-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Key"), h("th", {}, "Value"), h("th", {}, "Read-only"))),
        h("tbody", {}, keys.map((k) => h("tr", {}, h("td", {}, k.key), h("td", {}, k.value ?? "—"), h("td", {}, k.readonly ? "yes" : "no")))),
      ),
      unknown.length ? h("p", {}, `Unknown keys: ${unknown.join(", ")}`) : null,
    ];
  }
  const results = reply.get_variable_result ?? reply.getVariableResult;
  if (Array.isArray(results)) {
    return h(
      "table",
      { class: "answer-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Variable"), h("th", {}, "Status"), h("th", {}, "Value"))),
      h(
        "tbody",
        {},
        results.map((r) =>
          h(
            "tr",
            {},
            h("td", {}, `${r.component?.name ?? "?"} / ${r.variable?.name ?? "?"}`),
            h("td", {}, r.attribute_status ?? r.attributeStatus ?? "—"),
            h("td", {}, r.attribute_value ?? r.attributeValue ?? "—"),
          ),
        ),
      ),
    );
  }
  const rest = Object.entries(reply).filter(([k]) => k !== "status");
  if (!rest.length) return null;
  return h("dl", { class: "answer-fields" }, rest.map(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))]));
}
