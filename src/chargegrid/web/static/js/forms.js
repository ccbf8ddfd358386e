// Settings forms. The API is the judge of what is valid: the form sends what the user
// changed and shows the API's problem+json messages next to the fields they name.
import { ApiError } from "./api.js";
import { h, replaceChildren } from "./dom.js";

let formCount = 0;

/**
 * A form for some fields of one resource.
 *   fields: [{name, label, kind: "number"|"text"|"select"|"checkbox", value, options?,
 *             nullable?, help?, unit?}]
 *   submit(changes) -> Promise of the updated resource (PATCH/PUT)
 *   actions: extra buttons [{label, name, run: () => Promise}] (e.g. "Clear override")
 *   onSaved(resource): after a successful change
 */
export function settingsForm({ id, title, fields, submit, actions = [], onSaved = () => {} }) {
  const prefix = `${id ?? "form"}-${++formCount}`;
  const initial = Object.fromEntries(fields.map((f) => [f.name, f.value]));
  const status = h("p", { class: "form-status", role: "status" });
  const inputs = new Map();
  const errorSlots = new Map();

  const rows = fields.map((field) => {
    const inputId = `${prefix}-${field.name}`;
    const errorId = `${inputId}-error`;
    const input = makeInput(field, inputId, errorId);
    inputs.set(field.name, input);
    const error = h("p", { class: "field-error", id: errorId, dataset: { field: field.name } });
    errorSlots.set(field.name, error);
    return h(
      "div",
      { class: `field field-${field.kind ?? "number"}` },
      h("label", { for: inputId }, field.label),
      h("div", { class: "control" }, input, field.unit ? h("span", { class: "unit" }, field.unit) : null),
      field.help ? h("p", { class: "help" }, field.help) : null,
      error,
    );
  });

  const buttons = [
    h("button", { type: "submit", class: "primary", name: "save" }, "Save"),
    ...actions.map((action) =>
      h("button", { type: "button", name: action.name, onclick: () => perform(action.run) }, action.label),
    ),
  ];
  const form = h(
    "form",
    { class: "settings", novalidate: true, dataset: { form: id ?? "" } },
    title ? h("h3", {}, title) : null,
    rows,
    h("div", { class: "buttons" }, buttons),
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const changes = collectChanges(fields, inputs, initial);
    if (!Object.keys(changes).length) {
      showStatus("Nothing changed.", "info");
      return;
    }
    perform(() => submit(changes));
  });

  async function perform(run) {
    clearErrors();
    setBusy(true);
    try {
      const resource = await run();
      if (resource) refill(resource);
      showStatus("Saved.", "ok");
      onSaved(resource);
    } catch (err) {
      showError(err);
    } finally {
      setBusy(false);
    }
  }

  function refill(resource) {
    for (const field of fields) {
      if (!(field.name in resource)) continue;
      initial[field.name] = resource[field.name];
      setInputValue(field, inputs.get(field.name), resource[field.name]);
    }
  }

  function showError(err) {
    if (!(err instanceof ApiError)) {
      showStatus(String(err.message || err), "error");
      return;
    }
    for (const [name, slot] of errorSlots) {
      const messages = err.messagesFor(name);
      if (!messages.length) continue;
      replaceChildren(slot, messages.join(" "));
      inputs.get(name).setAttribute("aria-invalid", "true");
    }
    const general = err.unclaimedMessages([...errorSlots.keys()]);
    if (err.status === 403) general.unshift(`Your role may not change this. ${err.detail}`.trim());
    else if (!err.errors.length) general.unshift(err.detail || err.title);
    if (!general.length) general.push("Please correct the marked fields.");
    showStatus(general.join(" "), "error");
  }

  function clearErrors() {
    for (const [name, slot] of errorSlots) {
      slot.replaceChildren();
      inputs.get(name).removeAttribute("aria-invalid");
    }
    showStatus("", "");
  }

  function showStatus(text, kind) {
    status.textContent = text;
    status.className = `form-status ${kind}`;
  }

  function setBusy(busy) {
    for (const button of form.querySelectorAll("button")) button.disabled = busy;
  }

  return form;
}

function makeInput(field, inputId, errorId) {
  const common = { id: inputId, name: field.name, "aria-describedby": errorId };
  let input;
  if (field.kind === "select") {
    input = h(
      "select",
      common,
      (field.nullable ? [{ value: "", label: "—" }] : []).concat(field.options).map((o) =>
        h("option", { value: String(o.value) }, o.label ?? String(o.value)),
      ),
    );
  } else if (field.kind === "checkbox") {
    input = h("input", { ...common, type: "checkbox" });
  } else {
    // Text, not type=number: a browser hides what it cannot parse as a number, and the
    // point is to show the API's verdict on exactly what was typed.
    input = h("input", {
      ...common,
      type: "text",
      inputmode: field.kind === "text" ? null : "decimal",
      autocomplete: "off",
      spellcheck: "false",
    });
  }
  setInputValue(field, input, field.value);
  return input;
}

function setInputValue(field, input, value) {
  if (field.kind === "checkbox") input.checked = Boolean(value);
  else input.value = value === null || value === undefined ? "" : String(value);
}

/** The fields whose input differs from what the server last said, as API values. */
function collectChanges(fields, inputs, initial) {
  const changes = {};
  for (const field of fields) {
    const input = inputs.get(field.name);
    const value = readInput(field, input);
    const before = initial[field.name] ?? null;
    if (value === before) continue;
    if (value === null && field.kind !== "checkbox" && before === null) continue;
    changes[field.name] = value;
  }
  return changes;
}

function readInput(field, input) {
  if (field.kind === "checkbox") return input.checked;
  const raw = input.value.trim();
  if (raw === "") return null;
  if (field.kind === "text") return raw;
  if (field.kind === "select") {
    const option = field.options.find((o) => String(o.value) === raw);
    return option ? option.value : raw;
  }
  // Sent as typed when it is not a number, so the API's message explains the problem.
  const number = Number(raw.replace(",", "."));
  return Number.isFinite(number) ? number : raw;
}
