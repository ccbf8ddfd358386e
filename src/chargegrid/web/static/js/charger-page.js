// One charger: what it is and how it is doing, its EVSEs and connectors with the load
// manager's limit on each, the commands an operator sends it (charger-actions.js), its
// settings, its recent sessions and its event log. Kept current from the event stream
// and the site's live load.
import { api, ApiError, listAll } from "./api.js";
import { ChargerActions } from "./charger-actions.js";
import { chargerFlags, flagBadges, notFollowingIds } from "./charger-flags.js";
import { chargerSettingsPanels } from "./charger-list.js";
import { h, replaceChildren, setText } from "./dom.js";
import { amps, duration, kwh, PHASE_LABEL, PHASES, reasonWords, statusClass, statusWord } from "./format.js";
import { endSessionButton, sessionStatusWords } from "./sessions-page.js";
import { followStream } from "./sse.js";

const RECENT_SESSIONS = 15;
const RECENT_EVENTS = 30;
const REFRESH_DEBOUNCE_MS = 300;

export class ChargerPage {
  constructor(chargerId, identity) {
    this.chargerId = chargerId;
    this.identity = identity;
    this.heading = h("h1", {}, "Charger");
    this.flags = h("span", { class: "flags" });
    this.online = h("span", { class: "online" });
    this.status = h("span", {});
    this.facts = h("dl", { class: "charger-facts" });
    this.evseBody = h("tbody", {});
    this.actions = new ChargerActions({ onDone: () => this.refreshSoon() });
    this.settings = h("div", { class: "charger-settings" });
    this.sessionBody = h("tbody", {});
    this.eventList = h("ol", { class: "event-log" });
    this.siteLinks = h("p", { class: "page-links" });
    this.el = h(
      "div",
      { class: "charger-page", dataset: { chargerId } },
      h("div", { class: "page-head" }, this.heading, this.online, this.status, this.flags),
      this.siteLinks,
      h(
        "div",
        { class: "grid" },
        h(
          "div",
          { class: "column" },
          h("section", { class: "panel", "aria-labelledby": "evses-h" }, h("h2", { id: "evses-h" }, "EVSEs and connectors"), table(["EVSE", "Status", "Connectors", "Limit", "Measured", "Reason"], this.evseBody, "evses")),
          h("section", { class: "panel", "aria-labelledby": "recent-h" }, h("h2", { id: "recent-h" }, "Recent sessions"), table(["Started", "EVSE", "Id tag", "Duration", "Energy", "Status", ""], this.sessionBody, "sessions recent-sessions")),
          h("section", { class: "panel", "aria-labelledby": "events-h" }, h("h2", { id: "events-h" }, "Events"), this.eventList),
        ),
        h(
          "div",
          { class: "column" },
          h("section", { class: "panel", "aria-labelledby": "actions-h" }, h("h2", { id: "actions-h" }, "Actions"), this.actions.el),
          h("section", { class: "panel", "aria-labelledby": "facts-h" }, h("h2", { id: "facts-h" }, "About"), this.facts, this.settings),
        ),
      ),
    );
    this.streams = [];
    this.timer = null;
    this.state = { load: null };
  }

  canWrite() {
    return this.identity.role !== "viewer";
  }

  async start() {
    await this.refresh();
    if (this.stopped) return this.state.charger.ocpp_id;
    this.follow();
    return this.state.charger.ocpp_id;
  }

  stop() {
    this.stopped = true;
    for (const stream of this.streams) stream.close();
    clearTimeout(this.timer);
  }

  async refresh() {
    const id = this.chargerId;
    const charger = await api(`/chargers/${id}`);
    const site = charger.site_id ? api(`/sites/${charger.site_id}`) : null;
    const circuits = charger.site_id ? listAll(`/sites/${charger.site_id}/circuits`) : [];
    const [siteBody, circuitList, sessions, active, events, idTags, load] = await Promise.all([
      site,
      circuits,
      api(`/sessions?charger_id=${id}&limit=${RECENT_SESSIONS}`),
      listAll(`/sessions?charger_id=${id}&active=true`),
      api(`/events?charger_id=${id}&limit=${RECENT_EVENTS}`),
      this.idTags ?? api("/id-tags?limit=100").then((b) => b.data ?? []).catch(() => []),
      charger.site_id ? this.readLoad(charger.site_id) : null,
    ]);
    this.idTags = idTags;
    Object.assign(this.state, {
      charger,
      site: siteBody,
      circuits: circuitList,
      sessions: sessions.data ?? [],
      active,
      events: events.data ?? [],
      load: load ?? this.state.load,
    });
    this.render();
  }

  async readLoad(siteId) {
    try {
      return await api(`/sites/${siteId}/load`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }

  refreshSoon() {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh().catch((err) => console.warn("chargegrid: charger refresh failed", err));
    }, REFRESH_DEBOUNCE_MS);
  }

  follow() {
    this.streams.push(
      followStream("/events/stream", {
        onMessage: (event, data) => {
          if (event === "site.load_changed" || event === "meter.reading") return;
          const payload = data?.data ?? data ?? {};
          if (payload.charger_id === this.chargerId) this.refreshSoon();
        },
      }),
    );
    const siteId = this.state.charger.site_id;
    if (siteId) {
      this.streams.push(
        followStream(`/sites/${siteId}/load/stream`, {
          onMessage: (event, data) => {
            if (event !== "load" && event !== "message") return;
            this.state.load = data;
            this.renderEvses();
            this.renderHead();
          },
        }),
      );
    }
  }

  render() {
    this.renderHead();
    this.renderFacts();
    this.renderEvses();
    this.renderSessions();
    this.renderEvents();
    const { charger, active } = this.state;
    this.actions.update({
      charger,
      evses: charger.evses ?? [],
      activeSessions: active,
      idTags: this.idTags,
      canCommand: this.canWrite(),
    });
    const rights = { write: this.canWrite(), technical: !["viewer", "owner"].includes(this.identity.role) };
    const key = `${rights.write}|${rights.technical}|${(charger.evses ?? []).map((e) => e.id).join(",")}`;
    // Rebuilt only when its shape changes, and never under the user's cursor.
    if (this.settingsKey !== key && !this.settings.contains(document.activeElement)) {
      this.settingsKey = key;
      replaceChildren(this.settings, chargerSettingsPanels({ charger, evses: charger.evses ?? [], rights, onSaved: () => this.refreshSoon() }));
    }
  }

  renderHead() {
    const { charger, load } = this.state;
    setText(this.heading, charger.ocpp_id);
    this.online.className = `online ${charger.online ? "yes" : "no"}`;
    setText(this.online, charger.online ? "online" : "offline");
    this.status.className = statusClass(charger.status);
    setText(this.status, statusWord(charger.status));
    const flags = chargerFlags(charger, notFollowingIds(load));
    if (this.flags.dataset.shown !== flags.join(",")) {
      this.flags.dataset.shown = flags.join(",");
      replaceChildren(this.flags, flagBadges(flags, charger));
    }
  }

  renderFacts() {
    const { charger, site, circuits } = this.state;
    const circuit = circuits.find((c) => c.id === charger.circuit_id);
    replaceChildren(
      this.siteLinks,
      site ? h("a", { href: `#/sites/${site.id}` }, `Site: ${site.name}`) : h("span", {}, "Not placed on a site"),
      site ? h("a", { href: `#/sites/${site.id}/chargers` }, "Chargers of this site") : null,
      h("a", { href: `#/sessions?charger_id=${charger.id}` }, "All its sessions"),
    );
    const facts = [
      ["Circuit", circuit ? circuit.name : site ? "main fuse" : "—"],
      ["Vendor / model", [charger.vendor, charger.model].filter(Boolean).join(" ") || "—"],
      ["Serial number", charger.serial_number ?? "—"],
      ["Firmware", charger.firmware_version ?? "—"],
      ["OCPP", charger.ocpp_version ?? "never connected"],
      ["Registration", charger.registration_status],
      ["Last seen", charger.last_seen_at ? new Date(charger.last_seen_at).toLocaleString() : "never"],
      ["Error", charger.error_code && charger.error_code !== "NoError" ? [charger.error_code, charger.vendor_error_code, charger.error_info].filter(Boolean).join(" · ") : "none"],
      ["Max current", charger.max_charge_current != null ? amps(charger.max_charge_current) : "charger's own"],
      ["Settings on the charger", charger.config_sync ?? "—"],
    ];
    replaceChildren(this.facts, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  renderEvses() {
    const { charger, load } = this.state;
    const bySlot = new Map((load?.sessions ?? []).filter((s) => s.charger_id === charger.id).map((s) => [s.evse_number, s]));
    const nodeNames = new Map((load?.nodes ?? []).map((n) => [n.id, n.name]));
    const evses = charger.evses ?? [];
    replaceChildren(
      this.evseBody,
      evses.length
        ? evses.map((evse) => {
            const live = bySlot.get(evse.evse_number);
            const measured = PHASES.filter((p) => live?.measured?.[p] != null).map((p) => `${PHASE_LABEL[p]} ${amps(live.measured[p])}`);
            return h(
              "tr",
              { dataset: { evseNumber: evse.evse_number } },
              h("td", { dataset: { label: "EVSE" } }, evse.evse_id ? `${evse.evse_number} (${evse.evse_id})` : String(evse.evse_number)),
              h("td", { dataset: { label: "Status" } }, h("span", { class: statusClass(evse.status) }, statusWord(evse.status)), evse.enabled === false ? " disabled" : ""),
              h("td", { dataset: { label: "Connectors" } }, (evse.connectors ?? []).map((c) => h("div", {}, connectorWords(c)))),
              h("td", { class: "num", dataset: { label: "Limit" } }, live ? `${amps(live.limit)} × ${live.phases}φ` : "—"),
              h("td", { class: "num", dataset: { label: "Measured" } }, measured.length ? measured.join(" · ") : "—"),
              h("td", { class: `reason${live?.reason === "not_following_limit" ? " alert" : ""}`, dataset: { label: "Reason" } }, live ? reasonWords(live.reason, (id) => nodeNames.get(id) ?? null) : "—"),
            );
          })
        : h("tr", {}, h("td", { colspan: "6", class: "empty" }, "No EVSEs reported yet.")),
    );
  }

  renderSessions() {
    const { sessions } = this.state;
    const canEnd = this.canWrite();
    replaceChildren(
      this.sessionBody,
      sessions.length
        ? sessions.map((s) =>
            h(
              "tr",
              { dataset: { sessionId: s.id }, class: s.suspect ? "suspect" : null },
              h("td", { dataset: { label: "Started" } }, new Date(s.started_at).toLocaleString()),
              h("td", { dataset: { label: "EVSE" } }, String(s.evse_number)),
              h("td", { dataset: { label: "Id tag" } }, s.id_tag ?? "—"),
              h("td", { class: "num", dataset: { label: "Duration" } }, duration(((s.stopped_at ? Date.parse(s.stopped_at) : Date.now()) - Date.parse(s.started_at)) / 1000)),
              h("td", { class: "num", dataset: { label: "Energy" } }, kwh(s.energy_wh)),
              h("td", { dataset: { label: "Status" } }, sessionStatusWords(s)),
              h("td", {}, canEnd && s.active ? endSessionButton(s, () => this.refreshSoon()) : null),
            ),
          )
        : h("tr", {}, h("td", { colspan: "7", class: "empty" }, "No sessions yet.")),
    );
  }

  renderEvents() {
    const { events } = this.state;
    replaceChildren(
      this.eventList,
      events.length
        ? events.map((e) => h("li", { dataset: { type: e.type } }, h("time", { datetime: e.at }, `${new Date(e.at).toLocaleString()} `), h("strong", {}, e.type), ` ${eventWords(e)}`))
        : h("li", { class: "empty" }, "No events recorded yet."),
    );
  }
}

function table(headings, body, cls) {
  return h("table", { class: cls }, h("thead", {}, h("tr", {}, headings.map((t) => h("th", {}, t)))), body);
}

function connectorWords(c) {
  const words = [`#${c.connector_id}`, c.standard, c.power_type, c.max_amperage != null ? amps(c.max_amperage) : null, c.phase_rotation ? `wired ${c.phase_rotation}` : null];
  return words.filter(Boolean).join(" · ");
}

/** A line about an event log entry: who changed what, or what the charger reported. */
function eventWords(entry) {
  const d = entry.data ?? {};
  if (entry.type === "config.changed") {
    const changes = Object.entries(d.changes ?? {}).map(([k, v]) => `${k} ${fmt(v?.old)} → ${fmt(v?.new)}`);
    const who = entry.actor ? `by ${entry.actor}${entry.actor_role ? ` (${entry.actor_role})` : ""}` : "";
    return [d.action, entry.subject, changes.join(", "), who].filter(Boolean).join(" ");
  }
  if (entry.type === "charger.status_changed") {
    return [d.evse_number != null ? `EVSE ${d.evse_number}` : null, d.status, d.error_code && d.error_code !== "NoError" ? `error ${d.error_code}` : null, d.vendor_error_code].filter(Boolean).join(" · ");
  }
  if (entry.type === "charger.limit_violation") {
    return d.ended ? `ended (${d.reason ?? "complied"})` : `drawing ${amps(d.measured_a)} with a limit of ${amps(d.limit_a)}`;
  }
  if (entry.type.startsWith("session.")) return [d.id_tag, d.evse_number != null ? `EVSE ${d.evse_number}` : null, d.reason ?? d.stop_reason].filter(Boolean).join(" · ");
  return d.reason ?? d.message ?? "";
}

function fmt(value) {
  return value === null || value === undefined ? "—" : String(value);
}
