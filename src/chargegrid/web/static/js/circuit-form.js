// Circuit forms (create, edit) and the available-current override form that sites and
// circuits share. The override form is honest about what the server did: the API stores
// an override above the node's fuse as the fuse rating (API.md, like Zaptec), answers
// the stored value, and the form compares it with what was typed.
import { api, ApiError } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { amps, lapseWords, PHASE_LABEL, PHASES, rotationWords } from "./format.js";
import { settingsForm } from "./forms.js";

const ROTATIONS = { 3: ["RST", "RTS", "SRT", "STR", "TRS", "TSR"], 1: ["R", "S", "T"] };
const PHASE_FIELDS = ["available_current_phase1", "available_current_phase2", "available_current_phase3"];

/** The circuits below `id` (and itself): a circuit may not be moved under any of them. */
function subtree(circuits, id) {
  const ids = new Set([id]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of circuits) {
      if (c.parent_id && ids.has(c.parent_id) && !ids.has(c.id)) {
        ids.add(c.id);
        grew = true;
      }
    }
  }
  return ids;
}

/**
 * Create (circuit null) or edit a circuit. Owners see name and priority only; fuse,
 * parent, phases, rotation and meter are technical (service/admin), as the API rules.
 */
export function circuitForm({ site, circuits, meters, circuit = null, rights, onSaved }) {
  const excluded = circuit ? subtree(circuits, circuit.id) : new Set();
  const parents = [
    { value: "", label: `main fuse (${amps(site.max_current)})` },
    ...circuits.filter((c) => !excluded.has(c.id)).map((c) => ({ value: c.id, label: `${c.name} (${amps(c.max_current)})` })),
  ];
  const phases = circuit?.phases ?? 3;
  const technical = rights.technical
    ? [
        { name: "parent_id", label: "Fed from", kind: "select", value: circuit?.parent_id ?? "", options: parents },
        { name: "max_current", label: "Fuse (max current)", unit: "A", value: circuit?.max_current, help: "per phase; at most the fuse it is fed from" },
        { name: "phases", label: "Phases", kind: "select", value: phases, options: [{ value: 3, label: "3 phases" }, { value: 1, label: "1 phase" }] },
        {
          name: "phase_rotation",
          label: "Phase rotation",
          kind: "select",
          value: circuit?.phase_rotation ?? "",
          options: [{ value: "", label: "straight through" }, ...[...ROTATIONS[3], ...ROTATIONS[1]].map((r) => ({ value: r, label: rotationWords(r) }))],
          help: "how this circuit's L1, L2, L3 land on the fuse it is fed from (3 letters for 3 phases, 1 for 1 phase)",
        },
        {
          name: "electricity_meter_id",
          label: "Electricity meter",
          kind: "select",
          value: circuit?.electricity_meter_id ?? "",
          options: [{ value: "", label: "none" }, ...meters.map((m) => ({ value: m.id, label: m.name }))],
          help: "measures the circuit's other (unmanaged) load",
        },
        { name: "offline_reserved_current", label: "Reserved while the meter is stale", unit: "A", value: circuit?.offline_reserved_current },
      ]
    : [];
  const form = settingsForm({
    id: circuit ? "circuit" : "new-circuit",
    title: circuit ? null : "Add a circuit",
    fields: [
      { name: "name", label: "Name", kind: "text", value: circuit?.name },
      ...technical,
      { name: "priority", label: "Priority weight", value: circuit?.priority, help: "2 gets twice the share of 1" },
    ],
    submit: (changes) => {
      // "" in a select is "none": the main fuse, no meter, the straight rotation.
      const body = Object.fromEntries(Object.entries(changes).map(([k, v]) => [k, v === "" ? null : v]));
      if (circuit) return api(`/circuits/${circuit.id}`, { method: "PATCH", body });
      for (const key of Object.keys(body)) if (body[key] === null) delete body[key];
      return api(`/sites/${site.id}/circuits`, { method: "POST", body });
    },
    onSaved,
  });
  return form;
}

/** "90 min", "1.5 h", "2h", "45" (minutes) → seconds; "" → null; anything else → NaN. */
export function parseLapse(text) {
  const raw = String(text ?? "").trim().toLowerCase().replace(",", ".");
  if (!raw) return null;
  const match = /^(\d+(?:\.\d+)?)\s*(h|hours?|m|min|mins|minutes?)?$/.exec(raw);
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  return Math.round(match[2]?.startsWith("h") ? value * 3600 : value * 60);
}

/**
 * The available-current override of a site or circuit: all phases or per phase, with a
 * lapse time in minutes or hours, or cleared. `fuseWords` names the ceiling ("the main
 * fuse", "the circuit's fuse"). After saving, says what the server made of it.
 */
export function overrideForm({ node, path, fuseWords, onSaved = () => {}, id = "override" }) {
  const note = h("p", { class: "override-note", role: "status", dataset: { overrideNote: "" } });
  const slot = h("div", {});
  const el = h("div", { class: "override" }, h("p", { class: "override-now" }), slot, note);

  function build(current) {
    replaceChildren(el.querySelector(".override-now"), describeOverride(current, fuseWords));
    const common = current.available_current;
    const form = settingsForm({
      id,
      fields: [
        { name: "available_current", label: "All phases", unit: "A", value: common, help: `at most ${fuseWords} (${amps(current.max_current)})` },
        ...PHASE_FIELDS.map((name, i) => ({
          name,
          label: `L${i + 1} only`,
          unit: "A",
          // One value on all phases shows as "All phases", not three times.
          value: common == null ? current[name] : null,
        })),
        { name: "lapse", label: "Lapses after", kind: "text", value: null, help: "e.g. 30 min or 2 h; empty: until cleared" },
      ],
      submit: (changes) => send(current, changes),
      actions: [{ label: "Clear override", name: "clear-override", run: () => send(current, { available_current: -1 }) }],
      onSaved: (updated) => {
        if (!updated) return;
        build(updated);
        onSaved(updated);
      },
    });
    replaceChildren(slot, form);
  }

  async function send(before, changes) {
    const body = { ...changes };
    delete body.lapse;
    if ("lapse" in changes) {
      const seconds = parseLapse(changes.lapse);
      if (Number.isNaN(seconds)) {
        throw new ApiError(422, {
          detail: "Lapse time not understood.",
          errors: [{ field: "lapse", message: "a number of minutes or hours, e.g. 30 min or 2 h" }],
        });
      }
      if (seconds !== null) body.available_current_ttl_s = seconds;
    }
    // A lapse time alone renews the override that is set, as the API needs a value with it.
    if (body.available_current_ttl_s && !Object.keys(body).some((k) => k.startsWith("available_current") && k !== "available_current_ttl_s")) {
      if (before.available_current != null) body.available_current = before.available_current;
      else for (const name of PHASE_FIELDS) if (before[name] != null) body[name] = before[name];
    }
    // Per phase: a phase left out goes back to the fuse; keep the ones set before.
    if (PHASE_FIELDS.some((k) => k in body) && before.available_current == null) {
      for (const name of PHASE_FIELDS) if (!(name in body) && before[name] != null) body[name] = before[name];
    }
    // The empty field is "no override here": the API's word for that is a negative value.
    for (const key of ["available_current", ...PHASE_FIELDS]) if (key in body && body[key] === null) body[key] = -1;
    let after;
    try {
      after = await api(path, { method: "PATCH", body });
    } catch (err) {
      if (err instanceof ApiError) {
        err.errors = err.errors.map((e) => (/available_current_ttl_s$/.test(String(e.field)) ? { ...e, field: "lapse" } : e));
      }
      throw err;
    }
    replaceChildren(note, overrideOutcome(before, body, after, fuseWords));
    return after;
  }

  build(node);
  return el;
}

/** What is in force now, in a sentence. */
export function describeOverride(node, fuseWords) {
  const effective = node.effective_available_current ?? {};
  const set = PHASE_FIELDS.some((k) => node[k] != null) || node.available_current != null;
  if (!set) return `No override: ${amps(node.max_current)} per phase (${fuseWords}).`;
  const until = node.available_current_expires_at;
  const lapse = until
    ? ` Lapses at ${new Date(until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} (in ${lapseWords((Date.parse(until) - Date.now()) / 1000)}).`
    : " Until cleared.";
  const what =
    node.available_current != null
      ? `Override: ${amps(node.available_current)} on all phases.`
      : `Override: ${PHASES.map((p) => `${PHASE_LABEL[p]} ${amps(effective[p])}`).join(" · ")}.`;
  return what + lapse;
}

/**
 * The sentence after a save: the value in force, each value the server limited and to
 * what, and an override that was replaced. `body` is what was sent, `after` the answer.
 */
export function overrideOutcome(before, body, after, fuseWords) {
  const parts = [];
  const ceiling = after.max_current;
  const sent = ["available_current", ...PHASE_FIELDS].filter((k) => k in body);
  if (sent.length && sent.every((k) => body[k] < 0)) return `Override cleared: ${amps(ceiling)} per phase (${fuseWords}).`;
  const limited = (asked) => asked != null && asked >= 0 && asked > ceiling;
  if ("available_current" in body && body.available_current >= 0) {
    parts.push(`Saved: ${amps(after.available_current ?? after.effective_available_current?.l1)} on all phases.`);
    if (limited(body.available_current)) parts.push(`${amps(body.available_current)}: limited to ${fuseWords} (${amps(ceiling)}).`);
    const hadPerPhase = before.available_current == null && PHASE_FIELDS.some((k) => before[k] != null);
    if (hadPerPhase) {
      const old = PHASE_FIELDS.map((k, i) => (before[k] != null ? `L${i + 1} ${amps(before[k])}` : null)).filter(Boolean).join(", ");
      parts.push(`It replaced the per-phase override (${old}).`);
    }
  } else if (PHASE_FIELDS.some((k) => k in body)) {
    const effective = after.effective_available_current ?? {};
    parts.push(`Saved: ${PHASES.map((p) => `${PHASE_LABEL[p]} ${amps(effective[p])}`).join(" · ")}.`);
    PHASE_FIELDS.forEach((k, i) => {
      if (limited(body[k])) parts.push(`L${i + 1} ${amps(body[k])}: limited to ${fuseWords} (${amps(ceiling)}).`);
    });
    const untouched = PHASE_FIELDS.map((k, i) => (body[k] == null || body[k] < 0 ? `L${i + 1}` : null)).filter(Boolean);
    if (before.available_current != null) {
      parts.push(
        `It replaced the all-phase override of ${amps(before.available_current)}` +
          (untouched.length ? `; ${untouched.join(", ")} went back to ${fuseWords} (${amps(ceiling)}).` : "."),
      );
    }
  } else {
    parts.push("Saved.");
  }
  if (body.available_current_ttl_s) parts.push(`Lapses in ${lapseWords(body.available_current_ttl_s)}.`);
  return parts.join(" ");
}
