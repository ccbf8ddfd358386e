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

const DEADLINE_SOURCES = { api: "set by hand", charger: "from the car", id_tag_default: "id tag default", predicted: "predicted" };

/**
 * A session's deadline in words (docs/deadlines.md): "leaves 17:30 (predicted, 55 %) ·
 * wants 20 kWh (from the car)", or "" when nothing is known. `now` makes it testable.
 */
export function deadlineWords(session, now = new Date()) {
  if (!session) return "";
  const parts = [];
  if (session.departure_at) {
    const at = new Date(session.departure_at);
    const sameDay = at.toDateString() === now.toDateString();
    const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const when = sameDay ? time : `${at.toLocaleDateString([], { weekday: "short" })} ${time}`;
    const source = DEADLINE_SOURCES[session.departure_source] ?? session.departure_source ?? "";
    const sure = session.departure_source === "predicted" && session.departure_confidence != null
      ? `, ${Math.round(session.departure_confidence * 100)} %` : "";
    parts.push(`leaves ${when}${source ? ` (${source}${sure})` : ""}`);
  }
  if (session.energy_wanted_wh != null) {
    const kwh = session.energy_wanted_wh / 1000;
    const source = DEADLINE_SOURCES[session.energy_wanted_source] ?? session.energy_wanted_source ?? "";
    parts.push(`wants ${kwh >= 10 ? kwh.toFixed(0) : kwh.toFixed(1)} kWh${source ? ` (${source})` : ""}`);
  }
  return parts.join(" · ");
}

// Connector and wiring values of the API (OCPI ConnectorType, format, power type) in the
// words installers use; the API value stays in the option's value.
const ENUM_WORDS = {
  IEC_62196_T2: "Type 2",
  IEC_62196_T2_COMBO: "CCS (Combo 2)",
  IEC_62196_T1: "Type 1",
  IEC_62196_T1_COMBO: "CCS (Combo 1)",
  IEC_62196_T3A: "Type 3A",
  IEC_62196_T3C: "Type 3C",
  CHADEMO: "CHAdeMO",
  GBT_AC: "GB/T AC",
  GBT_DC: "GB/T DC",
  DOMESTIC_F: "Schuko (type F)",
  TESLA_S: "Tesla",
  NEMA_5_20: "NEMA 5-20",
  SOCKET: "socket",
  CABLE: "fixed cable",
  AC_1_PHASE: "AC, 1 phase",
  AC_2_PHASE: "AC, 2 phases",
  AC_2_PHASE_SPLIT: "AC, split phase",
  AC_3_PHASE: "AC, 3 phases",
  DC: "DC",
};

export function enumWords(value) {
  if (!value) return "—";
  return ENUM_WORDS[value] ?? String(value).replaceAll("_", " ").toLowerCase();
}

/** "STR: L1→L2 · L2→L3 · L3→L1" — where each of a node's phases lands on its parent. */
export function rotationWords(rotation) {
  if (!rotation) return "straight through";
  const grid = { R: "L1", S: "L2", T: "L3" };
  const mapped = [...rotation].map((letter, i) => `L${i + 1}→${grid[letter] ?? letter}`);
  const straight = rotation === "RST".slice(0, rotation.length);
  return `${rotation}: ${mapped.join(" · ")}${straight ? " (straight)" : ""}`;
}

/** "45 min", "2 h", "1 h 30 min" from seconds. */
export function lapseWords(seconds) {
  const minutes = Math.round(Number(seconds) / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}
