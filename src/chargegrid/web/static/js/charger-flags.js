// What makes a charger need an operator's eye: offline, faulted, or a car on it drawing
// more than its limit. Shown the same way on the sites list, the site, the table and the
// charger's own page.
import { h } from "./dom.js";

export const FLAG_WORDS = {
  offline: "offline",
  faulted: "faulted",
  not_following_limit: "not following its limit",
};

/** Ids of chargers with a session the load manager counts as not following its limit. */
export function notFollowingIds(load) {
  return new Set(
    (load?.sessions ?? []).filter((s) => s.reason === "not_following_limit").map((s) => s.charger_id),
  );
}

function faulted(charger) {
  if (charger.ocpp_status === "Faulted") return true;
  if (charger.error_code && charger.error_code !== "NoError") return true;
  return (charger.evses ?? []).some(
    (e) => e.ocpp_status === "Faulted" || (e.error_code && e.error_code !== "NoError"),
  );
}

/** The flags of one charger, most urgent first. */
export function chargerFlags(charger, notFollowing = new Set()) {
  const flags = [];
  if (notFollowing.has(charger.id)) flags.push("not_following_limit");
  if (faulted(charger)) flags.push("faulted");
  // Unplaced or never-connected chargers are offline too; that is still worth seeing.
  if (!charger.online) flags.push("offline");
  return flags;
}

/** Badges for `flags`; the title says the error code where the charger gave one. */
export function flagBadges(flags, charger = null) {
  return flags.map((flag) =>
    h(
      "span",
      {
        class: `flag flag-${flag}`,
        dataset: { flag },
        title: flag === "faulted" && charger?.error_code ? `error ${charger.error_code}` : null,
      },
      FLAG_WORDS[flag] ?? flag,
    ),
  );
}

/** "2 offline · 1 faulted" for a set of chargers ("" when nothing stands out). */
export function flagSummary(chargers, notFollowing = new Set()) {
  const counts = new Map();
  for (const charger of chargers) {
    for (const flag of chargerFlags(charger, notFollowing)) counts.set(flag, (counts.get(flag) ?? 0) + 1);
  }
  return Object.keys(FLAG_WORDS)
    .filter((flag) => counts.has(flag))
    .map((flag) => ({ flag, count: counts.get(flag) }));
}

/** Badges like "2 offline" for a flagSummary(). */
export function flagCountBadges(summary) {
  return summary.map(({ flag, count }) =>
    h("span", { class: `flag flag-${flag}`, dataset: { flag } }, `${count} ${FLAG_WORDS[flag]}`),
  );
}
