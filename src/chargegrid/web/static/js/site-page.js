// One site: fuse tree with live per-phase bars, the hour's load chart, chargers, active
// sessions, and the forms this role may use. Live data comes from two SSE streams; when
// the server has no live load yet, the page shows the configuration and says so.
import { overrideForm } from "./circuit-form.js";
import { api, ApiError, listAll } from "./api.js";
import { flagCountBadges, flagSummary, notFollowingIds } from "./charger-flags.js";
import { ChargerList } from "./charger-list.js";
import { h, replaceChildren, setText } from "./dom.js";
import { amps, PHASE_LABEL, PHASES } from "./format.js";
import { settingsForm } from "./forms.js";
import { LoadChart, LoadHistory } from "./load-chart.js";
import { configuredNodes, LoadTree } from "./load-tree.js";
import { SessionList } from "./session-list.js";
import { followStream } from "./sse.js";

const REFRESH_DEBOUNCE_MS = 250;
// A busy site sends several events a second; configuration is re-read at most this often.
const REFRESH_MIN_INTERVAL_MS = 2000;
// Topics whose news the load stream already brings.
const LOAD_TOPICS = new Set(["site.load_changed", "meter.reading"]);
const POLL_MS = 10000;

export class SitePage {
  constructor(siteId, identity) {
    this.siteId = siteId;
    this.identity = identity;
    this.state = { site: null, circuits: [], chargers: [], evses: new Map(), sessions: [], load: null };
    this.pendingParts = new Set();
    this.liveStatus = h("span", { class: "live-status", role: "status" });
    this.heading = h("h1", {}, "Site");
    this.summary = h("p", { class: "site-summary" });
    this.tree = new LoadTree();
    this.history = new LoadHistory(siteId);
    this.chart = new LoadChart(this.history);
    this.chargers = new ChargerList({
      rights: () => ({ write: this.canEdit(), technical: this.canEditFuses() }),
      onChanged: () => this.refreshSoon(),
    });
    this.sessions = new SessionList();
    this.formSlot = h("div", { class: "site-forms" });
    // Offline, faulted and not-following chargers, counted where the eye lands first.
    this.attention = h("span", { class: "site-flags", role: "status" });
    this.el = h(
      "div",
      { class: "site-page" },
      h("div", { class: "page-head" }, this.heading, this.liveStatus),
      this.summary,
      h(
        "nav",
        { class: "page-links", "aria-label": "This site" },
        h("a", { href: `#/sites/${siteId}/chargers` }, "Chargers as a table"),
        h("a", { href: `#/sites/${siteId}/sessions` }, "Session history"),
        this.attention,
      ),
      h(
        "div",
        { class: "grid" },
        h(
          "div",
          { class: "column" },
          h("section", { class: "panel", "aria-labelledby": "tree-h" }, h("h2", { id: "tree-h" }, "Fuses and load"), this.tree.el, legend()),
          h("section", { class: "panel", "aria-labelledby": "chart-h" }, h("h2", { id: "chart-h" }, "Load over time"), this.chart.el),
        ),
        h("section", { class: "panel", "aria-labelledby": "forms-h" }, h("h2", { id: "forms-h" }, "Available current"), this.formSlot),
      ),
      h("section", { class: "panel wide", "aria-labelledby": "chargers-h" }, h("h2", { id: "chargers-h" }, "Chargers"), this.chargers.el),
      h("section", { class: "panel wide", "aria-labelledby": "sessions-h" }, h("h2", { id: "sessions-h" }, "Active sessions"), this.sessions.el),
    );
    this.streams = [];
    this.timers = [];
    this.refreshTimer = null;
    this.loadAvailable = true;
  }

  canEdit() {
    return this.identity.role !== "viewer";
  }

  /** Fuse ratings and wiring: electricians (service) and admins; unknown role: try. */
  canEditFuses() {
    return !["viewer", "owner"].includes(this.identity.role);
  }

  async start() {
    const site = await api(`/sites/${this.siteId}`);
    this.state.site = site;
    await this.refresh();
    await this.fetchLoad();
    if (this.stopped) return site; // Left while loading: start nothing that would outlive it.
    this.chart.start().catch((err) => this.showProblem(err));
    this.buildForms();
    this.followLive();
    this.timers.push(setInterval(() => this.sessions.tick(), 1000));
    return site;
  }

  stop() {
    this.stopped = true;
    for (const stream of this.streams) stream.close();
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.refreshTimer);
    this.chart.stop();
  }

  /** Configuration and sessions: re-read on events, since they change rarely; only the
   * parts an event can have changed (a session's meter value must not re-read the site's
   * whole configuration). */
  async refresh(parts = ALL_PARTS) {
    const id = this.siteId;
    const want = new Set(parts);
    // Only the wanted parts are asked for; the others stay as they are.
    const read = (part, ask) => (want.has(part) ? ask() : Promise.resolve(this.state[part]));
    const [site, circuits, chargers, sessions] = await Promise.all([
      read("site", () => api(`/sites/${id}`)),
      read("circuits", () => listAll(`/sites/${id}/circuits`)),
      read("chargers", () => listAll(`/chargers?site_id=${id}`)),
      read("sessions", () => listAll(`/sessions?site_id=${id}&active=true`)),
    ]);
    if (want.has("chargers")) {
      chargers.sort((a, b) => a.ocpp_id.localeCompare(b.ocpp_id, undefined, { numeric: true }));
      // A charger comes with its EVSEs; ask separately only if this API version leaves them out.
      const evseLists = await Promise.all(
        chargers.map((c) => (Array.isArray(c.evses) ? c.evses : listAll(`/chargers/${c.id}/evses`))),
      );
      this.state.evses = new Map(chargers.map((c, i) => [c.id, evseLists[i]]));
    }
    Object.assign(this.state, { site, circuits, chargers, sessions });
    this.render();
  }

  /** One pending refresh covers every event until it runs (the parts they name, merged);
   * at most one per interval. */
  refreshSoon(parts = ALL_PARTS) {
    for (const part of parts) this.pendingParts.add(part);
    if (this.refreshTimer || this.stopped) return;
    const due = (this.lastRefresh ?? 0) + REFRESH_MIN_INTERVAL_MS - Date.now();
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.lastRefresh = Date.now();
      const parts = [...this.pendingParts];
      this.pendingParts.clear();
      this.refresh(parts).catch((err) => this.showProblem(err));
      if (parts.some((part) => part !== "sessions")) this.fetchLoad().catch((err) => this.showProblem(err));
    }, Math.max(REFRESH_DEBOUNCE_MS, due));
  }

  async fetchLoad() {
    try {
      this.onLoad(await api(`/sites/${this.siteId}/load`));
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
      this.loadAvailable = false;
      this.state.load = null;
      this.setLive("no-load");
      this.render();
    }
  }

  onLoad(load) {
    if (!load || load.site_id !== this.siteId) return;
    this.loadAvailable = true;
    this.state.load = load;
    const siteNode = load.nodes?.find((n) => n.kind === "site");
    if (siteNode) this.history.add(siteNode, load.computed_at ? Date.parse(load.computed_at) / 1000 : undefined);
    this.chart.redraw();
    this.render();
  }

  followLive() {
    this.streams.push(
      followStream(`/sites/${this.siteId}/load/stream`, {
        onMessage: (event, data) => {
          if (event === "load" || event === "message") this.onLoad(data);
        },
        onStatus: (status) => {
          if (status === "unavailable") {
            // No stream but a load endpoint: poll it instead.
            if (this.loadAvailable) this.timers.push(setInterval(() => this.fetchLoad().catch(() => {}), 2000));
            this.setLive(this.loadAvailable ? "polling" : "no-load");
          } else this.setLive(status);
        },
      }),
    );
    this.streams.push(
      followStream("/events/stream", {
        onMessage: (event, data) => {
          if (LOAD_TOPICS.has(event)) return;
          if (this.concernsThisSite(data)) this.refreshSoon(partsFor(event));
        },
        onStatus: (status) => {
          if (status === "unavailable" || status === "forbidden") {
            this.timers.push(setInterval(() => this.refreshSoon(), POLL_MS));
          }
        },
      }),
    );
  }

  concernsThisSite(data) {
    const payload = data?.data ?? data ?? {};
    if (payload.site_id) return payload.site_id === this.siteId;
    const chargerId = payload.charger_id;
    return !chargerId || this.state.chargers.some((c) => c.id === chargerId);
  }

  setLive(status) {
    const words = {
      connecting: "connecting…",
      live: "live",
      retrying: "reconnecting…",
      polling: "updating every 2 s",
      forbidden: "live load not permitted",
      "no-load": "live load not available",
    };
    this.liveStatus.className = `live-status ${status}`;
    this.liveStatus.dataset.status = status;
    setText(this.liveStatus, words[status] ?? status);
  }

  render() {
    const { site, circuits, chargers, evses, sessions, load } = this.state;
    if (!site) return;
    setText(this.heading, site.name);
    const effective = site.effective_available_current ?? {};
    const overridden = PHASES.some((p) => effective[p] != null && effective[p] !== site.max_current);
    setText(
      this.summary,
      [
        `Main fuse ${amps(site.max_current)} per phase`,
        `available ${PHASES.map((p) => `${PHASE_LABEL[p]} ${amps(effective[p])}`).join(" · ")}`,
        overridden ? overrideWords(site) : "",
        `${site.nominal_voltage ?? 230} V ${site.network_type ?? ""}`.trim(),
        `${chargers.length} charger${chargers.length === 1 ? "" : "s"}`,
      ]
        .filter(Boolean)
        .join(" — "),
    );
    const flags = flagSummary(chargers, notFollowingIds(load));
    const flagKey = flags.map((f) => `${f.flag}:${f.count}`).join(",");
    if (this.attention.dataset.shown !== flagKey) {
      this.attention.dataset.shown = flagKey;
      replaceChildren(this.attention, flagCountBadges(flags));
    }
    const nodes = load?.nodes?.length ? load.nodes : configuredNodes(site, circuits);
    const chargersByNode = new Map();
    for (const charger of chargers) {
      const node = charger.circuit_id ?? site.id;
      if (!chargersByNode.has(node)) chargersByNode.set(node, []);
      chargersByNode.get(node).push(charger);
    }
    this.tree.update(nodes, chargersByNode);
    const loadSessions = load?.sessions ?? [];
    const circuitNames = new Map(circuits.map((c) => [c.id, c.name]));
    this.chargers.update({
      chargers,
      evses,
      loadSessions,
      circuitName: (id) => (id ? (circuitNames.get(id) ?? null) : null),
      nodeName: (id) => this.tree.nodeName(id),
    });
    const chargerNames = new Map(chargers.map((c) => [c.id, c.ocpp_id]));
    this.sessions.update({ sessions, loadSessions, chargerName: (id) => chargerNames.get(id) ?? null });
  }

  buildForms() {
    if (!this.canEdit()) {
      replaceChildren(this.formSlot, h("p", { class: "empty" }, "Your role can look but not change settings."));
      return;
    }
    const site = this.state.site;
    const patch = (changes) => api(`/sites/${this.siteId}`, { method: "PATCH", body: changes });
    const afterSave = (updated) => {
      if (updated) this.state.site = updated;
      this.render();
      // The stream brings the new plan too; asking once more makes the bars follow at once.
      this.fetchLoad().catch((err) => this.showProblem(err));
    };
    // The same honest override form as site setup: lapse times in minutes or hours, a
    // clamped value says so, a per-phase override says what it replaced.
    const current = overrideForm({
      node: site,
      path: `/sites/${this.siteId}`,
      fuseWords: "the main fuse",
      onSaved: afterSave,
      id: "site-current",
    });
    const settings = settingsForm({
      id: "site-settings",
      title: "Site settings",
      fields: [
        ...(this.canEditFuses() ? [{ name: "max_current", label: "Main fuse", unit: "A", value: site.max_current, help: "per phase; electricians only" }] : []),
        { name: "three_to_one_phase_switch_current", label: "Switch 3→1 phase below", unit: "A", value: site.three_to_one_phase_switch_current, nullable: true, help: "empty: never switch" },
        { name: "offline_limit_to_min_current", label: "Offline chargers at their minimum", kind: "checkbox", value: site.offline_limit_to_min_current },
      ],
      submit: patch,
      onSaved: afterSave,
    });
    replaceChildren(this.formSlot, current, settings);
  }

  showProblem(err) {
    console.warn("chargegrid: refresh failed", err);
    this.setLive("retrying");
  }
}

const ALL_PARTS = ["site", "circuits", "chargers", "sessions"];

/** What an event on the bus can have changed on this page. */
function partsFor(topic) {
  if (topic === "session.updated") return ["sessions"]; // energy and state, not the set-up
  if (topic?.startsWith("session.")) return ["sessions", "chargers"]; // a connector's status too
  if (topic?.startsWith("charger.")) return ["chargers"];
  return ALL_PARTS; // config.changed and anything new: read everything again
}

function overrideWords(site) {
  const until = site.available_current_expires_at;
  return until ? `override until ${new Date(until).toLocaleTimeString()}` : "override active";
}

function legend() {
  return h(
    "p",
    { class: "legend" },
    h("span", { class: "key unmanaged" }), "unmanaged ",
    h("span", { class: "key allocated" }), "allocated to chargers ",
    h("span", { class: "key measured" }), "measured ",
    "— the bar ends at the limit",
  );
}
