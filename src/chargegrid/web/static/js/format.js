// How numbers, times and machine words are shown to people.

export const PHASES = ["l1", "l2", "l3"];
export const PHASE_LABEL = { l1: "L1", l2: "L2", l3: "L3" };

/** "16 A", "15.8 A", or "—" when unknown. */
export function amps(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return `${Number(value).toFixed(Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : 1)} A`;
}

export function kwh(wh) {
  if (wh === null || wh === undefined) return "—";
  return `${(Number(wh) / 1000).toFixed(2)} kWh`;
}

/** "1 h 05 min", "4 min 09 s" from seconds. */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = s % 60;
  if (hours) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  return `${minutes} min ${String(secs).padStart(2, "0")} s`;
}

export function clock(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// OCPI statuses and the words and colours an operator expects for them.
const STATUS_WORDS = {
  AVAILABLE: "Available",
  CHARGING: "Charging",
  BLOCKED: "Blocked",
  RESERVED: "Reserved",
  OUTOFORDER: "Out of order",
  INOPERATIVE: "Inoperative",
  PLANNED: "Planned",
  REMOVED: "Removed",
  UNKNOWN: "Unknown",
};

export function statusWord(status) {
  return STATUS_WORDS[status] ?? (status ? String(status) : "Unknown");
}

/** CSS class carrying the OCPI status colour. */
export function statusClass(status) {
  return `status status-${STATUS_WORDS[status] ? status : "UNKNOWN"}`;
}

/**
 * The allocator's reason, in words. `nodeName` resolves the node id of
 * "limited_by:<node_id>/<phase>" to the circuit's name.
 */
export function reasonWords(reason, nodeName = () => null) {
  if (!reason) return "—";
  const limited = /^limited_by:([^/]+)\/(l[123])$/i.exec(reason);
  if (limited) {
    const name = nodeName(limited[1]) ?? "a fuse";
    return `limited by ${name} ${PHASE_LABEL[limited[2].toLowerCase()]}`;
  }
  const words = {
    fair_share: "fair share",
    at_max: "at its maximum",
    below_min_not_admitted: "waiting: not enough current for its minimum",
    switched_to_1_phase: "switched to 1 phase",
    charger_offline: "charger offline: held at what it may draw",
    charger_flagged: "charger refused or did not answer: held",
    not_following_limit: "not following its limit: counted at its draw",
    above_limit: "drawing above its limit: counted at its draw",
    slowing_down: "just cut: counted at its old limit while the car slows down",
  };
  return words[reason] ?? reason.replaceAll("_", " ");
}

/** Where a session's measured current came from, in words ("" when measured as current). */
export function sourceWords(source) {
  return { power: "from power", energy: "from energy" }[source] ?? "";
}
