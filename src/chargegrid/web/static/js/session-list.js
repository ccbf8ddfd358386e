// Active sessions on the site: who, where, since when, how much energy, at what limit.
// A session whose charger has been offline for long is marked suspect: probably over,
// but nobody said so (an operator may end it: POST /sessions/{id}/actions/end).
import { h, replaceChildren, setText } from "./dom.js";
import { amps, clock, duration, kwh } from "./format.js";

export class SessionList {
  constructor() {
    this.tbody = h("tbody", {});
    this.el = h(
      "table",
      { class: "sessions" },
      h(
        "thead",
        {},
        h("tr", {}, ["Charger", "EVSE", "ID tag", "Started", "Duration", "Energy", "Limit"].map((t) => h("th", {}, t))),
      ),
      this.tbody,
    );
    this.rows = [];
  }

  update({ sessions, loadSessions, chargerName }) {
    const limits = new Map(loadSessions.map((s) => [s.session_id, s]));
    const shape = sessions.map((s) => s.id).join(",");
    if (shape !== this.shape) {
      this.shape = shape;
      this.rows = sessions.map(() => ({
        charger: h("td", { dataset: { label: "Charger" } }),
        evse: h("td", { dataset: { label: "EVSE" } }),
        tag: h("td", { dataset: { label: "ID tag" } }),
        started: h("td", { dataset: { label: "Started" } }),
        duration: h("td", { class: "num", dataset: { label: "Duration" } }),
        energy: h("td", { class: "num", dataset: { label: "Energy" } }),
        limit: h("td", { class: "num", dataset: { label: "Limit" } }),
      }));
      replaceChildren(
        this.tbody,
        sessions.length
          ? sessions.map((s, i) => h("tr", { dataset: { sessionId: s.id } }, Object.values(this.rows[i])))
          : h("tr", {}, h("td", { colspan: "7", class: "empty" }, "No active sessions.")),
      );
    }
    this.sessions = sessions;
    sessions.forEach((s, i) => {
      const cells = this.rows[i];
      setText(cells.charger, chargerName(s.charger_id) ?? "—");
      if (s.suspect) {
        cells.charger.append(
          h("span", { class: "status status-UNKNOWN suspect-badge", title: "Its charger has been offline for long: this session may be over" }, "suspect"),
        );
      }
      this.tbody.children[i]?.classList.toggle("suspect", Boolean(s.suspect));
      setText(cells.evse, s.evse_number ?? "—");
      setText(cells.tag, s.id_tag ?? "—");
      setText(cells.started, clock(s.started_at));
      setText(cells.energy, kwh(s.energy_wh));
      const live = limits.get(s.id);
      setText(cells.limit, live ? `${amps(live.limit)} × ${live.phases}φ` : "—");
    });
    this.tick();
  }

  /** Durations move every second without asking the server. */
  tick(now = Date.now()) {
    (this.sessions ?? []).forEach((s, i) => {
      if (s.started_at) setText(this.rows[i].duration, duration((now - Date.parse(s.started_at)) / 1000));
    });
  }
}
