// The site's per-phase load against its limit over the last hour, drawn with uPlot
// (bundled from npm into /static/vendor by scripts/build-assets.sh).
import uPlot from "../vendor/uPlot.esm.js";
import { h } from "./dom.js";
import { PHASES } from "./format.js";

const WINDOW_S = 3600;
const MIN_WINDOW_S = 120;
// Electricians' conductor colours (IEC 60446): L1 brown, L2 black, L3 grey.
const PHASE_COLOUR = { l1: "#8b4a1c", l2: "#1d1d1f", l3: "#8a8f98" };

/**
 * Samples of the site node kept for an hour. The API has no load history, so the page
 * records what it sees; sessionStorage keeps it across reloads of the tab.
 */
export class LoadHistory {
  constructor(siteId) {
    this.key = `chargegrid.history.${siteId}`;
    this.samples = [];
    try {
      this.samples = JSON.parse(sessionStorage.getItem(this.key) ?? "[]");
    } catch {
      this.samples = [];
    }
    this.prune(Date.now() / 1000);
  }

  /** Records the site node of one live-load message. */
  add(siteNode, at = Date.now() / 1000) {
    const t = Math.floor(at);
    const sample = { t };
    for (const phase of PHASES) {
      const v = siteNode.phases?.[phase] ?? {};
      const load = v.measured ?? (v.allocated == null ? null : v.allocated + (v.unmanaged ?? 0));
      sample[phase] = load;
      sample[`${phase}_limit`] = v.limit ?? null;
    }
    const last = this.samples.at(-1);
    // Several messages in one second: the newest wins, the chart has 1 s resolution.
    if (last && last.t === t) this.samples[this.samples.length - 1] = sample;
    else this.samples.push(sample);
    this.prune(t);
    try {
      sessionStorage.setItem(this.key, JSON.stringify(this.samples));
    } catch {
      // Storage full: the chart still works from memory.
    }
  }

  prune(now) {
    const from = now - WINDOW_S;
    const firstKept = this.samples.findIndex((s) => s.t >= from);
    this.samples = firstKept === -1 ? [] : this.samples.slice(firstKept);
  }

  /** Columns for uPlot, the last values held until `now` (the load is a step function). */
  columns(now) {
    const rows = [...this.samples];
    if (rows.length && rows.at(-1).t < now) rows.push({ ...rows.at(-1), t: now });
    const keys = ["t", ...PHASES, ...PHASES.map((p) => `${p}_limit`)];
    return keys.map((k) => rows.map((r) => r[k] ?? null));
  }
}

export class LoadChart {
  constructor(history) {
    this.history = history;
    this.note = h("p", { class: "chart-note" });
    this.el = h(
      "div",
      { class: "chart", role: "img", "aria-label": "Site load per phase, last hour" },
      this.note,
    );
    this.plot = null;
    this.resize = new ResizeObserver(() => this.fit());
    this.timer = null;
  }

  /** Draws once the element is in the document (uPlot measures it). */
  start() {
    const stepped = uPlot.paths.stepped({ align: 1 });
    const series = [
      {},
      ...PHASES.map((p) => ({
        label: `${p.toUpperCase()} load`,
        stroke: PHASE_COLOUR[p],
        width: 2,
        paths: stepped,
        points: { show: false },
        value: (_, v) => (v == null ? "—" : `${v.toFixed(1)} A`),
      })),
      ...PHASES.map((p) => ({
        label: `${p.toUpperCase()} limit`,
        stroke: PHASE_COLOUR[p],
        width: 1,
        dash: [6, 4],
        paths: stepped,
        points: { show: false },
        value: (_, v) => (v == null ? "—" : `${v.toFixed(0)} A`),
      })),
    ];
    const now = Date.now() / 1000;
    this.plot = new uPlot(
      {
        width: this.width(),
        height: 220,
        series,
        scales: {
          x: { time: true, range: () => this.window(Date.now() / 1000) },
          y: { range: (_, min, max) => [0, Math.max(10, (max ?? 0) * 1.1)] },
        },
        axes: [{}, { label: "A", size: 50 }],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      },
      this.history.columns(now),
      this.el,
    );
    this.resize.observe(this.el);
    // The time axis moves even when the load does not.
    this.timer = setInterval(() => this.redraw(), 5000);
  }

  /** The last hour, or less while the page has seen less, so a fresh page shows a line. */
  window(now) {
    const first = this.history.samples[0]?.t ?? now;
    return [Math.max(now - WINDOW_S, Math.min(first - 30, now - MIN_WINDOW_S)), now];
  }

  width() {
    return Math.max(260, this.el.clientWidth || this.el.parentElement?.clientWidth || 600);
  }

  fit() {
    if (this.plot && Math.abs(this.plot.width - this.width()) > 2) {
      this.plot.setSize({ width: this.width(), height: 220 });
    }
  }

  redraw() {
    if (!this.plot) return;
    const columns = this.history.columns(Date.now() / 1000);
    this.note.textContent = this.history.samples.length
      ? ""
      : "No load recorded yet: the chart fills in as live load arrives.";
    this.plot.setData(columns);
    // Away from the cursor, the legend shows the latest values rather than dashes.
    const hovering = this.plot.cursor.left != null && this.plot.cursor.left >= 0;
    if (!hovering && columns[0].length) {
      this.plot.setLegend({ idx: columns[0].length - 1 });
    }
  }

  stop() {
    clearInterval(this.timer);
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}
