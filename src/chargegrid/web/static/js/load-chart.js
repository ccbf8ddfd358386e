// The site's per-phase load against its limit, drawn with uPlot (bundled from npm into
// /static/vendor by scripts/build-assets.sh). The points come from the server's load
// history (GET /sites/{id}/load/history), so any tab, any role and any reload sees the
// same past at once; live-load messages are appended while the page is open.
import uPlot from "../vendor/uPlot.esm.js";
import { api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { PHASE_LABEL, PHASES } from "./format.js";

export const RANGES = [
  { key: "hour", label: "Hour", seconds: 3600 },
  { key: "day", label: "Day", seconds: 86400 },
  { key: "week", label: "Week", seconds: 7 * 86400 },
  { key: "month", label: "Month", seconds: 30 * 86400 },
];
// What each line is, in the API's words (docs/load-api.md): the chart must not let an
// allocation pass for a measurement.
const QUANTITIES = [
  { key: "allocated", words: "allocated", width: 2, dash: null },
  { key: "measured", words: "measured", width: 2, dash: [2, 3] },
  { key: "limit", words: "limit", width: 1, dash: [8, 5] },
];
// Electricians' conductor colours (IEC 60446): L1 brown, L2 black, L3 grey.
const PHASE_COLOUR = { l1: "#8b4a1c", l2: "#1d1d1f", l3: "#8a8f98" };
const HEIGHT = 240;
const MIN_WINDOW_S = 120;

const column = (phase, quantity) => `${phase}_${quantity}`;

/**
 * The site node's samples over the chosen range: the server's history, then what the live
 * stream brings. Each sample is {t, l1_allocated, l1_measured, l1_limit, ...} in A.
 */
export class LoadHistory {
  constructor(siteId) {
    this.siteId = siteId;
    this.range = RANGES[0];
    this.samples = [];
    this.fromServer = 0; // Points the last history answer brought (tests and the note read it).
    this.step = null;
    this.generation = 0;
  }

  /** Replaces the samples with the server's history of the last `range`. */
  async load(range = this.range, now = Date.now()) {
    const mine = ++this.generation;
    this.range = range;
    const from = new Date(now - range.seconds * 1000).toISOString();
    const to = new Date(now).toISOString();
    const query = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    const body = await api(`/sites/${this.siteId}/load/history?${query}`);
    if (mine !== this.generation) return false; // A newer range was picked meanwhile.
    const live = this.samples.filter((s) => s.live && s.t * 1000 >= now);
    this.samples = (body.points ?? []).map((p) => fromPoint(p)).concat(live);
    this.fromServer = body.points?.length ?? 0;
    this.step = body.step ?? null;
    return true;
  }

  /** Appends the site node of one live-load message. */
  add(siteNode, at = Date.now() / 1000) {
    const t = Math.floor(at);
    const sample = { t, live: true };
    for (const phase of PHASES) {
      const values = siteNode.phases?.[phase] ?? {};
      for (const q of QUANTITIES) sample[column(phase, q.key)] = num(values[q.key]);
    }
    const last = this.samples.at(-1);
    if (last && last.t > t) return; // Older than the history already shown.
    // Several messages in one second: the newest wins.
    if (last && last.t === t) this.samples[this.samples.length - 1] = sample;
    else this.samples.push(sample);
    const from = t - this.range.seconds;
    const firstKept = this.samples.findIndex((s) => s.t >= from);
    if (firstKept > 0) this.samples = this.samples.slice(firstKept);
  }

  /** Columns for uPlot; the last values are held until `now` (the load is a step function). */
  columns(now) {
    const rows = [...this.samples];
    if (rows.length && rows.at(-1).t < now) rows.push({ ...rows.at(-1), t: now });
    const keys = ["t", ...seriesKeys()];
    return keys.map((k) => rows.map((r) => r[k] ?? null));
  }
}

function num(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function fromPoint(point) {
  const sample = { t: Math.floor(Date.parse(point.t) / 1000) };
  for (const phase of PHASES) {
    const values = point.phases?.[phase] ?? {};
    for (const q of QUANTITIES) sample[column(phase, q.key)] = num(values[q.key]);
  }
  return sample;
}

function seriesKeys() {
  return QUANTITIES.flatMap((q) => PHASES.map((p) => column(p, q.key)));
}

export class LoadChart {
  constructor(history) {
    this.history = history;
    this.note = h("p", { class: "chart-note", role: "status" });
    this.buttons = RANGES.map((range) =>
      h(
        "button",
        {
          type: "button",
          class: "range",
          dataset: { range: range.key },
          "aria-pressed": String(range === history.range),
          onclick: () => this.pick(range),
        },
        range.label,
      ),
    );
    this.plotSlot = h("div", { class: "chart-plot" });
    this.el = h(
      "div",
      { class: "chart", dataset: { range: history.range.key, points: "0", historyPoints: "" } },
      h("div", { class: "chart-ranges", role: "group", "aria-label": "Period shown" }, this.buttons),
      h("div", { role: "img", "aria-label": "Site load per phase in amperes: allocated, measured and limit" }, this.plotSlot),
      this.note,
      h(
        "p",
        { class: "chart-key" },
        "Amperes per grid phase. ",
        h("span", { class: "line allocated" }), " allocated: what the load manager gave the chargers; ",
        h("span", { class: "line measured" }), " measured: what meters and chargers report; ",
        h("span", { class: "line limit" }), " limit.",
      ),
    );
    this.plot = null;
    this.resize = new ResizeObserver(() => this.fit());
    this.timer = null;
  }

  /** Loads the history of the current range and draws it (the element must be in the page). */
  async start() {
    this.draw();
    await this.reload();
    if (!this.plot) return; // Stopped (the page was left) while the history loaded.
    // The time axis moves even when the load does not.
    this.timer = setInterval(() => this.redraw(), 5000);
  }

  async pick(range) {
    for (const button of this.buttons) {
      button.setAttribute("aria-pressed", String(button.dataset.range === range.key));
    }
    this.el.dataset.range = range.key;
    this.history.range = range;
    await this.reload(range);
  }

  async reload(range = this.history.range) {
    this.el.dataset.loading = "true";
    this.note.textContent = "Loading the load history…";
    try {
      if (!(await this.history.load(range))) return;
      this.el.dataset.historyPoints = String(this.history.fromServer);
      this.note.textContent = "";
    } catch (err) {
      // The live part still works; say why the past is missing.
      this.el.dataset.historyPoints = "error";
      this.note.textContent = `Load history not available: ${err.message}`;
    } finally {
      delete this.el.dataset.loading;
    }
    this.redraw();
  }

  draw() {
    const stepped = uPlot.paths.stepped({ align: 1 });
    const series = [
      {},
      ...QUANTITIES.flatMap((q) =>
        PHASES.map((p) => ({
          label: `${PHASE_LABEL[p]} ${q.words}`,
          stroke: PHASE_COLOUR[p],
          width: q.width,
          dash: q.dash ?? undefined,
          paths: stepped,
          points: { show: false },
          spanGaps: false,
          value: (_, v) => (v == null ? "—" : `${v.toFixed(1)} A`),
        })),
      ),
    ];
    this.plot = new uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        series,
        scales: {
          x: { time: true, range: () => this.window(Date.now() / 1000) },
          y: { range: (_, min, max) => [0, Math.max(10, (max ?? 0) * 1.1)] },
        },
        axes: [{}, { label: "A per phase", size: 56 }],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      },
      this.history.columns(Date.now() / 1000),
      this.plotSlot,
    );
    this.resize.observe(this.el);
  }

  /**
   * The chosen range, ending now; when the history starts later (a new server), from its
   * first point, so a few minutes of load are not a sliver at the right edge. The note
   * says so.
   */
  window(now) {
    const first = this.history.samples[0]?.t ?? now;
    return [Math.max(now - this.history.range.seconds, Math.min(first - 30, now - MIN_WINDOW_S)), now];
  }

  width() {
    return Math.max(260, this.el.clientWidth || this.el.parentElement?.clientWidth || 600);
  }

  fit() {
    if (this.plot && Math.abs(this.plot.width - this.width()) > 2) {
      this.plot.setSize({ width: this.width(), height: HEIGHT });
    }
  }

  redraw() {
    if (!this.plot) return;
    const columns = this.history.columns(Date.now() / 1000);
    if (!this.el.dataset.loading && this.el.dataset.historyPoints !== "error") {
      const first = this.history.samples[0]?.t;
      const now = Date.now() / 1000;
      this.note.textContent =
        first === undefined
          ? `No load recorded in the last ${this.history.range.key}.`
          : first > now - this.history.range.seconds + 2 * (this.history.step ?? 60)
            ? `Recorded since ${new Date(first * 1000).toLocaleString()}.`
            : "";
    }
    this.plot.setData(columns);
    this.el.dataset.points = String(this.history.samples.length);
    // Away from the cursor, the legend shows the latest values rather than dashes.
    const hovering = this.plot.cursor.left != null && this.plot.cursor.left >= 0;
    if (!hovering && columns[0].length) this.plot.setLegend({ idx: columns[0].length - 1 });
  }

  stop() {
    clearInterval(this.timer);
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
    replaceChildren(this.plotSlot);
  }
}
