// Id tags (RFID cards, app tokens): search and filter, create, block/unblock, expiry,
// site scope, and CSV import of many at once.
//
// Import: the file is parsed here (nothing is uploaded as a file), each row is POSTed
// through the API like a tag typed into the form, a few at a time, and every row gets
// an outcome. A tag that exists already is skipped by default, as `chargegrid tag
// import` does: importing the same file twice creates nothing twice and changes
// nothing. With "Update tags that exist already" ticked, a tag whose row differs is
// PATCHed to the file's values ("updated") and an identical one is "unchanged".
import { api, ApiError, listAll } from "./api.js";
import { h, replaceChildren, setText } from "./dom.js";
import { settingsForm } from "./forms.js";
import { rightsOf } from "./identity.js";

export const CSV_COLUMNS = [
  "id_tag", "status", "expires_at", "parent_id_tag", "site",
  // Deadline defaults (docs/deadlines.md).
  "default_departure_time", "default_dwell_s", "default_energy_wh",
];
const CSV_NUMBERS = ["default_dwell_s", "default_energy_wh"];
const STATUSES = ["Accepted", "Blocked", "Expired", "Invalid"];
// Parallel requests while importing: enough to hide the round trip, few enough to stay
// far below the API's rate limit (50/s, burst 1000) and not to starve the live pages.
const IMPORT_CONCURRENCY = 4;
const RETRY_429_MS = 1000;
const MAX_SHOWN = 1000; // Rows drawn at once; the search narrows a bigger list.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** RFC 4180 CSV: quoted fields with commas, quotes ("") and line breaks; CRLF or LF. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  const src = text.replace(/^\uFEFF/, ""); // Excel's byte-order mark
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (quoted) {
      if (c === '"' && src[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === "\n") line++;
        field += c;
      }
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && src[i + 1] === "\n") i++;
      row.push(field);
      rows.push({ line: rowLine, cells: row });
      row = [];
      field = "";
      line++;
      rowLine = line;
    } else field += c;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push({ line: rowLine, cells: row });
  }
  return rows.filter((r) => r.cells.some((cell) => cell.trim() !== ""));
}

/** "2026-12-31" → the end of that day here, as ISO 8601 UTC; anything else unchanged. */
export function expiryValue(text) {
  const raw = String(text ?? "").trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(raw)) {
    const end = new Date(`${raw}T23:59:59`);
    return Number.isNaN(end.getTime()) ? raw : end.toISOString();
  }
  return raw;
}

/**
 * The rows of a tags CSV as API bodies: [{line, id_tag, body}] and [{line, id_tag,
 * message}] for rows that cannot be sent. Throws Error naming what is wrong with the
 * file itself (no header with id_tag, unknown columns).
 */
export function tagsFromCsv(text, sites) {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw new Error("The file is empty.");
  const columns = header.cells.map((c) => c.trim().toLowerCase());
  if (!columns.includes("id_tag")) throw new Error(`The first line must name the columns, with id_tag; known: ${CSV_COLUMNS.join(", ")}.`);
  const unknown = columns.filter((c) => c && !CSV_COLUMNS.includes(c) && c !== "site_id");
  if (unknown.length) throw new Error(`Unknown column(s) ${unknown.join(", ")}; known: ${CSV_COLUMNS.join(", ")}.`);
  const byName = new Map(sites.map((s) => [s.name.trim().toLowerCase(), s]));
  const ok = [];
  const refused = [];
  for (const { line, cells } of rows) {
    const values = Object.fromEntries(columns.map((c, i) => [c, (cells[i] ?? "").trim()]));
    const body = {};
    if (values.id_tag) body.id_tag = values.id_tag;
    if (values.status) body.status = values.status;
    if (values.expires_at) body.expires_at = expiryValue(values.expires_at);
    if (values.parent_id_tag) body.parent_id_tag = values.parent_id_tag;
    if (values.default_departure_time) body.default_departure_time = values.default_departure_time;
    for (const name of CSV_NUMBERS) {
      // A number as a number; anything else as written, for the API's 422 to name it.
      const number = Number(values[name]);
      if (values[name]) body[name] = Number.isFinite(number) ? number : values[name];
    }
    const site = values.site || values.site_id;
    if (site) {
      // A site by id, or by its name as the sites list shows it.
      const match = UUID.test(site) ? { id: site } : byName.get(site.toLowerCase());
      if (!match) {
        refused.push({ line, id_tag: values.id_tag, message: `no site named "${site}" visible to this token` });
        continue;
      }
      body.site_id = match.id;
    }
    ok.push({ line, id_tag: values.id_tag, body });
  }
  return { ok, refused };
}

/** The API's verdict in one line: its detail and every field message. */
export function problemWords(err) {
  if (!(err instanceof ApiError)) return String(err.message || err);
  const fields = err.errors.map((e) => `${String(e.field ?? "").replace(/^body\./, "")}: ${e.message}`);
  return [`${err.status || ""} ${err.detail || err.title}`.trim(), ...fields].join(" — ");
}

/** POST one row (PATCH it when it exists and `update` is on); the row's outcome. */
async function importRow(row, existing, update) {
  const known = existing.get(row.body.id_tag);
  if (known) {
    if (!update) return { outcome: "skipped", text: "exists already: left as it is" };
    const diff = Object.fromEntries(Object.entries(row.body).filter(([k, v]) => !same(known[k], v)));
    if (!Object.keys(diff).length) return { outcome: "unchanged", text: "exists already with these values" };
    const tag = await withRetry(() => api(`/id-tags/${known.id}`, { method: "PATCH", body: diff }));
    existing.set(tag.id_tag, tag);
    return { outcome: "updated", text: `updated: ${Object.keys(diff).join(", ")}` };
  }
  try {
    const tag = await withRetry(() => api("/id-tags", { method: "POST", body: row.body }));
    existing.set(tag.id_tag, tag);
    return { outcome: "created", text: "created" };
  } catch (err) {
    // Made meanwhile (another import, another tab): the same as existing.
    if (err instanceof ApiError && err.status === 409) return { outcome: "skipped", text: `exists already: ${err.detail}` };
    throw err;
  }
}

function same(a, b) {
  if (a == null || b == null) return (a ?? null) === (b ?? null);
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (typeof a === "string" && /T/.test(a) && !Number.isNaN(ta) && !Number.isNaN(tb)) return ta === tb;
  return String(a) === String(b);
}

/** Waits out a 429 (the rate limit) and tries again; any other error is the row's. */
async function withRetry(call) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 429 || attempt >= 30) throw err;
      await new Promise((resolve) => setTimeout(resolve, RETRY_429_MS));
    }
  }
}

export class IdTagsPage {
  constructor(identity) {
    this.identity = identity;
    this.rights = rightsOf(identity);
    this.tags = [];
    this.sites = [];
    this.search = h("input", { id: "tag-search", type: "search", placeholder: "id tag or parent", autocomplete: "off" });
    this.statusFilter = h("select", { id: "tag-status" }, h("option", { value: "" }, "any status"), STATUSES.map((s) => h("option", { value: s }, s)));
    this.count = h("p", { class: "tag-count", role: "status" });
    this.tbody = h("tbody", {});
    this.createSlot = h("div", {});
    this.importSlot = h("div", {});
    this.search.addEventListener("input", () => this.renderList());
    this.statusFilter.addEventListener("change", () => this.renderList());
    this.el = h(
      "div",
      { class: "tags-page" },
      h("h1", {}, "Id tags"),
      h(
        "div",
        { class: "grid" },
        h(
          "section",
          { class: "panel", "aria-labelledby": "tags-list-h" },
          h("h2", { id: "tags-list-h" }, "Tags"),
          h(
            "div",
            { class: "filters" },
            h("label", { for: "tag-search" }, "Search"),
            this.search,
            h("label", { for: "tag-status" }, "Filter by status"),
            this.statusFilter,
          ),
          this.count,
          h(
            "table",
            { class: "tags" },
            h("thead", {}, h("tr", {}, ["Id tag", "Status", "Expires", "Parent", "Site", ""].map((t) => h("th", {}, t)))),
            this.tbody,
          ),
        ),
        h("div", { class: "column" }, this.createSlot, this.importSlot),
      ),
    );
  }

  async start() {
    this.sites = await listAll("/sites");
    await this.reload();
    if (this.rights.write) {
      replaceChildren(this.createSlot, h("section", { class: "panel", "aria-labelledby": "tags-new-h" }, h("h2", { id: "tags-new-h" }, "New tag"), this.createForm()));
      replaceChildren(this.importSlot, this.importPanel());
    } else {
      replaceChildren(this.createSlot, h("p", { class: "panel empty" }, `Your role (${this.identity.role}) may look at tags but not change them.`));
    }
    return { name: "Id tags" };
  }

  stop() {
    this.stopped = true;
  }

  async reload() {
    this.tags = await listAll("/id-tags");
    this.tags.sort((a, b) => a.id_tag.localeCompare(b.id_tag, undefined, { numeric: true }));
    if (!this.stopped) this.renderList();
  }

  siteName(id) {
    if (!id) return "all sites";
    return this.sites.find((s) => s.id === id)?.name ?? id;
  }

  renderList() {
    const query = this.search.value.trim().toLowerCase();
    const status = this.statusFilter.value;
    const shown = this.tags.filter(
      (t) =>
        (!status || t.status === status) &&
        (!query || t.id_tag.toLowerCase().includes(query) || (t.parent_id_tag ?? "").toLowerCase().includes(query)),
    );
    setText(
      this.count,
      `${shown.length} of ${this.tags.length} tag${this.tags.length === 1 ? "" : "s"}` + (shown.length > MAX_SHOWN ? ` (first ${MAX_SHOWN} shown: search to narrow)` : ""),
    );
    replaceChildren(
      this.tbody,
      shown.length
        ? shown.slice(0, MAX_SHOWN).map((tag) => this.row(tag))
        : h("tr", {}, h("td", { colspan: "6", class: "empty" }, this.tags.length ? "No tag matches." : "No id tags yet.")),
    );
  }

  row(tag) {
    const expired = tag.expires_at && Date.parse(tag.expires_at) < Date.now();
    const blocked = tag.status === "Blocked";
    const actions = this.rights.write
      ? h(
          "td",
          { class: "actions" },
          h("button", { type: "button", class: "small", onclick: (e) => this.setStatus(tag, blocked ? "Accepted" : "Blocked", e.target) }, blocked ? "Unblock" : "Block"),
          this.lazyEdit(tag),
        )
      : h("td", {});
    return h(
      "tr",
      { dataset: { idTag: tag.id_tag, status: tag.status } },
      h("td", { dataset: { label: "Id tag" } }, h("code", {}, tag.id_tag)),
      h("td", { dataset: { label: "Status" } }, h("span", { class: `tag-status tag-${tag.status}` }, tag.status)),
      h("td", { dataset: { label: "Expires" } }, tag.expires_at ? `${new Date(tag.expires_at).toLocaleDateString()}${expired ? " (expired)" : ""}` : "never"),
      h("td", { dataset: { label: "Parent" } }, tag.parent_id_tag ?? "—"),
      h("td", { dataset: { label: "Site" } }, this.siteName(tag.site_id)),
      actions,
    );
  }

  /** The edit form is built when first opened: a list of thousands stays light. */
  lazyEdit(tag) {
    const details = h("details", {}, h("summary", {}, "Edit"));
    details.addEventListener("toggle", () => {
      if (details.open && details.children.length === 1) details.append(this.editForm(tag));
    });
    return details;
  }

  async setStatus(tag, status, button) {
    button.disabled = true;
    try {
      const updated = await api(`/id-tags/${tag.id}`, { method: "PATCH", body: { status } });
      Object.assign(tag, updated);
      this.renderList();
    } catch (err) {
      button.disabled = false;
      button.after(h("span", { class: "field-error", role: "alert" }, problemWords(err)));
    }
  }

  siteOptions() {
    const unscoped = !this.identity?.site_ids;
    return [...(unscoped ? [{ value: "", label: "all sites" }] : []), ...this.sites.map((s) => ({ value: s.id, label: s.name }))];
  }

  tagFields(tag) {
    return [
      ...(tag ? [] : [{ name: "id_tag", label: "Id tag", kind: "text", value: null, help: "the card's UID as the charger reports it, up to 36 characters" }]),
      { name: "status", label: "Status", kind: "select", value: tag?.status ?? "Accepted", options: STATUSES.map((s) => ({ value: s })) },
      { name: "expires_at", label: "Expires", kind: "text", value: tag?.expires_at ?? null, help: "YYYY-MM-DD (end of that day) or ISO 8601; empty: never" },
      { name: "parent_id_tag", label: "Parent (group) tag", kind: "text", value: tag?.parent_id_tag ?? null },
      { name: "site_id", label: "Valid on", kind: "select", value: tag?.site_id ?? (this.identity?.site_ids ? this.sites[0]?.id : ""), options: this.siteOptions() },
      { name: "default_departure_time", label: "Usually leaves at", kind: "text", value: tag?.default_departure_time ?? null, help: "HH:MM, the site's local time; empty: predicted from its past sessions" },
      { name: "default_dwell_s", label: "Else usually stays (s)", kind: "number", value: tag?.default_dwell_s ?? null, help: "seconds, e.g. 28800 for 8 h" },
      { name: "default_energy_wh", label: "Usually wants (Wh)", kind: "number", value: tag?.default_energy_wh ?? null, help: "energy per session; empty: predicted" },
    ];
  }

  bodyOf(changes) {
    const body = { ...changes };
    if (typeof body.expires_at === "string") body.expires_at = expiryValue(body.expires_at);
    if (body.site_id === "") body.site_id = null;
    return body;
  }

  createForm() {
    return settingsForm({
      id: "new-tag",
      fields: this.tagFields(null),
      submit: (changes) => {
        const body = this.bodyOf(changes);
        if (body.site_id === null) delete body.site_id;
        return api("/id-tags", { method: "POST", body });
      },
      onSaved: () => this.reload(),
    });
  }

  editForm(tag) {
    return settingsForm({
      id: "edit-tag",
      fields: this.tagFields(tag),
      submit: (changes) => api(`/id-tags/${tag.id}`, { method: "PATCH", body: this.bodyOf(changes) }),
      onSaved: (updated) => {
        Object.assign(tag, updated);
        this.renderList();
      },
    });
  }

  importPanel() {
    const file = h("input", { id: "tags-file", type: "file", accept: ".csv,text/csv", "aria-describedby": "tags-file-help" });
    const update = h("input", { id: "tags-update", type: "checkbox" });
    const start = h("button", { type: "button", class: "primary", name: "import" }, "Import");
    const progress = h("progress", { max: "1", value: "0", "aria-label": "Import progress", hidden: true });
    const status = h("p", { class: "form-status", role: "status", id: "import-status" });
    const report = h("div", { class: "import-report" });
    start.addEventListener("click", async () => {
      const chosen = file.files?.[0];
      if (!chosen) {
        status.textContent = "Choose a CSV file first.";
        status.className = "form-status error";
        return;
      }
      start.disabled = true;
      try {
        await this.runImport(await chosen.text(), update.checked, { progress, status, report });
      } finally {
        start.disabled = false;
      }
    });
    return h(
      "section",
      { class: "panel", "aria-labelledby": "tags-import-h" },
      h("h2", { id: "tags-import-h" }, "Import from CSV"),
      h(
        "p",
        { class: "help", id: "tags-file-help" },
        "First line: the column names ",
        h("code", {}, CSV_COLUMNS.join(",")),
        " (only id_tag is required). site is a site's name or id; empty: all sites. expires_at: YYYY-MM-DD or ISO 8601.",
      ),
      h("div", { class: "field" }, h("label", { for: "tags-file" }, "CSV file"), file),
      h(
        "div",
        { class: "field field-checkbox" },
        update,
        h("label", { for: "tags-update" }, "Update tags that exist already"),
        h("p", { class: "help" }, "Off: existing tags are skipped and stay as they are, so importing the same file twice changes nothing."),
      ),
      h("div", { class: "buttons" }, start),
      progress,
      status,
      report,
    );
  }

  async runImport(text, update, { progress, status, report }) {
    replaceChildren(report);
    let parsed;
    try {
      parsed = tagsFromCsv(text, this.sites);
    } catch (err) {
      status.textContent = err.message;
      status.className = "form-status error";
      return;
    }
    const existing = new Map((await listAll("/id-tags")).map((t) => [t.id_tag, t]));
    const rows = parsed.ok;
    const results = parsed.refused.map((r) => ({ ...r, outcome: "refused", text: r.message }));
    const total = rows.length + results.length;
    let done = results.length;
    progress.hidden = false;
    progress.max = Math.max(total, 1);
    const tick = () => {
      progress.value = done;
      status.className = "form-status info";
      status.textContent = `${done} of ${total} rows…`;
    };
    tick();
    let next = 0;
    const worker = async () => {
      while (next < rows.length) {
        const row = rows[next++];
        try {
          results.push({ ...row, ...(await importRow(row, existing, update)) });
        } catch (err) {
          results.push({ ...row, outcome: "refused", text: problemWords(err) });
        }
        done++;
        tick();
      }
    };
    await Promise.all(Array.from({ length: IMPORT_CONCURRENCY }, worker));
    const counts = {};
    for (const r of results) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
    status.className = counts.refused ? "form-status error" : "form-status ok";
    status.textContent =
      ["created", "updated", "unchanged", "skipped", "refused"]
        .filter((k) => counts[k])
        .map((k) => `${counts[k]} ${k === "skipped" ? "skipped (exist already)" : k}`)
        .join(", ") + ` — of ${total} rows.`;
    const problems = results.filter((r) => r.outcome === "refused").sort((a, b) => a.line - b.line);
    if (problems.length) {
      replaceChildren(
        report,
        h("h3", {}, "Rows not imported"),
        h(
          "table",
          { class: "import-errors" },
          h("thead", {}, h("tr", {}, ["Line", "Id tag", "Why"].map((t) => h("th", {}, t)))),
          h("tbody", {}, problems.map((r) => h("tr", { dataset: { line: r.line } }, h("td", {}, String(r.line)), h("td", {}, r.id_tag || "—"), h("td", {}, r.text)))),
        ),
      );
    }
    await this.reload();
  }
}
