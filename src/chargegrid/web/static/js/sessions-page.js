// Session history: filters (dates, site, charger, id tag, status), the totals over every
// matching session (GET /sessions/summary), the sessions a page at a time, their CSV
// (the same filters, every row) and "end" for a session that is stuck open.
import { api, API, ApiError, authHeaders, listAll } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { duration, kwh } from "./format.js";

const PAGE = 50;
const STATUSES = [
  { value: "", label: "any" },
  { value: "active", label: "active" },
  { value: "completed", label: "completed" },
  { value: "refused", label: "refused" },
];

/** "active", "completed · Remote", "refused (Blocked)", "ended by alice: stuck". */
export function sessionStatusWords(s) {
  if (s.authorization_status && s.authorization_status !== "Accepted") return `refused (${s.authorization_status})`;
  if (s.active) return s.suspect ? "active · suspect: charger offline for long" : "active";
  if (s.ended_by) return `ended by ${s.ended_by}${s.end_reason ? `: ${s.end_reason}` : ""}`;
  return ["completed", s.stop_reason].filter(Boolean).join(" · ");
}

/**
 * "End…" for an open session: asks for the reason (it is audited) in place, then
 * POST /sessions/{id}/actions/end. `onEnded(session)` gets the API's answer.
 */
export function endSessionButton(session, onEnded) {
  const slot = h("div", { class: "end-session" });
  const open = h("button", { type: "button", class: "danger-outline", "aria-expanded": "false" }, "End…");
  open.addEventListener("click", () => {
    open.hidden = true;
    open.setAttribute("aria-expanded", "true");
    slot.append(endForm(session, onEnded, () => {
      open.hidden = false;
      open.setAttribute("aria-expanded", "false");
      open.focus();
    }));
  });
  slot.append(open);
  return slot;
}

let endCount = 0;

function endForm(session, onEnded, onCancel) {
  const id = `end-reason-${++endCount}`;
  const input = h("input", { id, name: "reason", type: "text", required: true, autocomplete: "off", "aria-describedby": `${id}-error`, placeholder: "e.g. charger replaced" });
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "End session");
  const form = h(
    "form",
    { class: "end-form", novalidate: true },
    h("label", { for: id }, "Why end it? (kept in the audit log)"),
    input,
    error,
    h("div", { class: "buttons" }, submit, h("button", { type: "button", onclick: () => { form.remove(); onCancel(); } }, "Cancel")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    submit.disabled = true;
    try {
      const ended = await api(`/sessions/${session.id}/actions/end`, { method: "POST", body: { reason: input.value.trim() } });
      replaceChildren(form, h("p", { class: "form-status ok", role: "status" }, "Ended."));
      onEnded(ended);
    } catch (err) {
      const messages = err instanceof ApiError ? err.messagesFor("reason") : [];
      error.textContent = messages.length
        ? messages.join(" ")
        : err instanceof ApiError && err.status === 403
          ? "Your role may not end sessions."
          : err.message;
      input.setAttribute("aria-invalid", "true");
    } finally {
      submit.disabled = false;
    }
  });
  queueMicrotask(() => input.focus());
  return form;
}

export class SessionsPage {
  /** `query`: initial filters, e.g. {site_id} or {charger_id} from the address. */
  constructor(identity, query = {}) {
    this.identity = identity;
    this.query = query;
    this.fields = {};
    this.totals = h("div", { class: "session-totals", role: "status", "aria-live": "polite" });
    this.tbody = h("tbody", {});
    this.more = h("button", { type: "button", hidden: true, onclick: () => this.loadPage() }, "Show more");
    this.count = h("p", { class: "list-count" });
    this.problem = h("p", { class: "form-status error", role: "alert" });
    this.download = h("button", { type: "button", class: "download", onclick: () => this.downloadCsv() }, "Download CSV");
    this.form = h("form", { class: "list-filters", novalidate: true });
    this.el = h(
      "div",
      { class: "sessions-page" },
      h("div", { class: "page-head" }, h("h1", {}, "Sessions")),
      h("section", { class: "panel", "aria-labelledby": "filter-h" }, h("h2", { id: "filter-h" }, "Filter"), this.form, this.problem),
      h("section", { class: "panel", "aria-labelledby": "totals-h" }, h("h2", { id: "totals-h" }, "Totals"), this.totals),
      h(
        "section",
        { class: "panel wide", "aria-labelledby": "list-h" },
        h("div", { class: "panel-head" }, h("h2", { id: "list-h" }, "Sessions, newest first"), this.download),
        this.count,
        h(
          "table",
          { class: "sessions history" },
          h("thead", {}, h("tr", {}, ["Started", "Stopped", "Site", "Charger", "EVSE", "Id tag", "Duration", "Energy", "Status", ""].map((t) => h("th", {}, t)))),
          this.tbody,
        ),
        this.more,
      ),
    );
  }

  async start() {
    const [sites, chargers] = await Promise.all([listAll("/sites"), listAll("/chargers")]);
    chargers.sort((a, b) => a.ocpp_id.localeCompare(b.ocpp_id, undefined, { numeric: true }));
    this.sites = new Map(sites.map((s) => [s.id, s]));
    this.chargers = new Map(chargers.map((c) => [c.id, c]));
    this.buildForm(sites, chargers);
    await this.search();
    return "Sessions";
  }

  stop() {
    this.stopped = true;
  }

  buildForm(sites, chargers) {
    const q = this.query;
    const field = (name, label, control, help) => {
      control.id = `sessions-${name}`;
      control.name = name;
      control.setAttribute("aria-describedby", `sessions-${name}-error`);
      this.fields[name] = { control, error: h("p", { class: "field-error", id: `sessions-${name}-error` }) };
      return h("div", { class: "field" }, h("label", { for: control.id }, label), control, help ? h("p", { class: "help" }, help) : null, this.fields[name].error);
    };
    const select = (options, value) => {
      const el = h("select", {}, options.map((o) => h("option", { value: o.value }, o.label)));
      el.value = value ?? "";
      return el;
    };
    replaceChildren(
      this.form,
      h(
        "div",
        { class: "filter-fields" },
        field("from", "Started from", h("input", { type: "date", value: q.from ?? "" }), "your local day"),
        field("to", "Started up to", h("input", { type: "date", value: q.to ?? "" }), "this day included"),
        field("site_id", "Site", select([{ value: "", label: "all sites" }, ...sites.map((s) => ({ value: s.id, label: s.name }))], q.site_id)),
        field("charger_id", "Charger", select([{ value: "", label: "all chargers" }, ...chargers.map((c) => ({ value: c.id, label: c.ocpp_id }))], q.charger_id)),
        field("id_tag", "Id tag", h("input", { type: "text", value: q.id_tag ?? "", autocomplete: "off", spellcheck: "false" })),
        field("status", "Status", select(STATUSES, q.status)),
      ),
      h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Show"), h("button", { type: "reset" }, "Clear")),
    );
    this.form.onsubmit = (event) => {
      event.preventDefault();
      this.search();
    };
    this.form.onreset = () => queueMicrotask(() => this.search());
  }

  /** The filters as API query parameters; dates are the user's local days. */
  params() {
    const v = Object.fromEntries(Object.entries(this.fields).map(([k, f]) => [k, f.control.value.trim()]));
    const params = new URLSearchParams();
    const day = (text, plusDays = 0) => {
      const [y, m, d] = text.split("-").map(Number);
      return new Date(y, m - 1, d + plusDays).toISOString();
    };
    if (v.from) params.set("from", day(v.from));
    if (v.to) params.set("to", day(v.to, 1));
    for (const key of ["site_id", "charger_id", "id_tag", "status"]) if (v[key]) params.set(key, v[key]);
    return params;
  }

  async search() {
    this.clearErrors();
    this.cursor = null;
    this.rows = 0;
    replaceChildren(this.tbody);
    const params = this.params();
    this.current = params;
    try {
      const summary = await api(`/sessions/summary?${params}`);
      if (params !== this.current) return;
      this.showTotals(summary);
      await this.loadPage();
    } catch (err) {
      this.showProblem(err);
    }
  }

  async loadPage() {
    const params = new URLSearchParams(this.current);
    params.set("limit", String(PAGE));
    if (this.cursor) params.set("cursor", this.cursor);
    const mine = this.current;
    this.more.disabled = true;
    try {
      const page = await api(`/sessions?${params}`);
      if (mine !== this.current) return;
      const sessions = page.data ?? [];
      this.tbody.append(...sessions.map((s) => this.row(s)));
      this.rows += sessions.length;
      if (!this.rows) this.tbody.append(h("tr", {}, h("td", { colspan: "10", class: "empty" }, "No sessions match.")));
      this.cursor = page.next_cursor;
      this.more.hidden = !this.cursor;
      this.count.textContent = `Showing ${this.rows} of ${this.total ?? this.rows}.`;
    } catch (err) {
      this.showProblem(err);
    } finally {
      this.more.disabled = false;
    }
  }

  row(s) {
    const charger = this.chargers.get(s.charger_id);
    const site = charger?.site_id ? this.sites.get(charger.site_id) : null;
    const stopped = s.stopped_at ? Date.parse(s.stopped_at) : Date.now();
    const statusCell = h("td", { dataset: { label: "Status" } }, sessionStatusWords(s));
    const tr = h(
      "tr",
      { dataset: { sessionId: s.id, status: s.active ? "active" : "" }, class: s.suspect ? "suspect" : null },
      h("td", { dataset: { label: "Started" } }, new Date(s.started_at).toLocaleString()),
      h("td", { dataset: { label: "Stopped" } }, s.stopped_at ? new Date(s.stopped_at).toLocaleString() : "—"),
      h("td", { dataset: { label: "Site" } }, site?.name ?? "—"),
      h("td", { dataset: { label: "Charger" } }, charger ? h("a", { href: `#/chargers/${charger.id}` }, charger.ocpp_id) : "—"),
      h("td", { dataset: { label: "EVSE" } }, String(s.evse_number)),
      h("td", { dataset: { label: "Id tag" } }, s.id_tag ?? "—"),
      h("td", { class: "num", dataset: { label: "Duration" } }, duration((stopped - Date.parse(s.started_at)) / 1000)),
      h("td", { class: "num", dataset: { label: "Energy" } }, kwh(s.energy_wh)),
      statusCell,
      h("td", {}, s.active && this.identity.role !== "viewer" ? endSessionButton(s, (ended) => {
        statusCell.textContent = sessionStatusWords(ended);
        tr.dataset.status = ended.active ? "active" : "";
      }) : null),
    );
    return tr;
  }

  showTotals(summary) {
    this.total = summary.count;
    const by = summary.by_status ?? {};
    const facts = [
      ["Sessions", String(summary.count)],
      ["Active", String(by.active ?? 0)],
      ["Completed", String(by.completed ?? 0)],
      ["Refused", String(by.refused ?? 0)],
      ["Energy", `${Number(summary.energy_kwh ?? 0).toFixed(2)} kWh`],
      ["Plugged-in time", duration(summary.duration_s ?? 0)],
    ];
    replaceChildren(this.totals, h("dl", { class: "totals" }, facts.map(([k, v]) => h("div", { dataset: { total: k.toLowerCase() } }, h("dt", {}, k), h("dd", {}, v)))));
  }

  /** The CSV needs the token, so it is fetched here and handed to the browser as a file. */
  async downloadCsv() {
    this.download.disabled = true;
    try {
      const params = new URLSearchParams(this.current ?? this.params());
      params.set("format", "csv");
      const response = await fetch(`${API}/sessions?${params}`, { headers: { Accept: "text/csv", ...authHeaders() } });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        throw new ApiError(response.status, problem);
      }
      const url = URL.createObjectURL(await response.blob());
      const link = h("a", { href: url, download: `sessions-${new Date().toISOString().slice(0, 10)}.csv`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) {
      this.showProblem(err);
    } finally {
      this.download.disabled = false;
    }
  }

  clearErrors() {
    this.problem.textContent = "";
    for (const f of Object.values(this.fields)) {
      f.error.textContent = "";
      f.control.removeAttribute("aria-invalid");
    }
  }

  showProblem(err) {
    if (!(err instanceof ApiError)) {
      this.problem.textContent = String(err.message || err);
      return;
    }
    for (const [name, f] of Object.entries(this.fields)) {
      const messages = err.messagesFor(name);
      if (!messages.length) continue;
      f.error.textContent = messages.join(" ");
      f.control.setAttribute("aria-invalid", "true");
    }
    const general = err.unclaimedMessages(Object.keys(this.fields));
    this.problem.textContent = [err.errors.length ? "" : err.detail || err.title, ...general].filter(Boolean).join(" ");
  }
}
