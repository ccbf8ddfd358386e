// Every charger the token may see (or one site's), as a table an operator can search,
// filter by status, link and circuit, and sort. It stays quick at hundreds of chargers:
// the whole list is read once and filtered in memory, and only one page of rows (50)
// is in the document at a time.
import { api, ApiError, listAll } from "./api.js";
import { chargerFlags, flagBadges, FLAG_WORDS, notFollowingIds } from "./charger-flags.js";
import { h, replaceChildren } from "./dom.js";
import { statusClass, statusWord } from "./format.js";

const PAGE = 50;
const COLUMNS = [
  { key: "ocpp_id", label: "Charger" },
  { key: "site", label: "Site" },
  { key: "circuit", label: "Circuit" },
  { key: "status", label: "Status" },
  { key: "online", label: "Link" },
  { key: "flags", label: "Needs attention" },
  { key: "ocpp_version", label: "OCPP" },
  { key: "last_seen_at", label: "Last seen" },
];
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export class ChargerTablePage {
  /** `siteId`: only that site's chargers (the site's own table); null: all. */
  constructor(identity, siteId = null) {
    this.identity = identity;
    this.siteId = siteId;
    this.sort = { key: "ocpp_id", dir: 1 };
    this.page = 0;
    this.rows = [];
    this.heading = h("h1", {}, "Chargers");
    this.tbody = h("tbody", {});
    this.count = h("p", { class: "list-count", role: "status", "aria-live": "polite" });
    this.pager = h("nav", { class: "pager", "aria-label": "Pages" });
    this.controls = h("form", { class: "list-filters", role: "search" });
    this.headRow = h("tr", {});
    this.el = h(
      "div",
      { class: "chargers-page" },
      h("div", { class: "page-head" }, this.heading),
      h("section", { class: "panel", "aria-label": "Find chargers" }, this.controls),
      h(
        "section",
        { class: "panel wide", "aria-labelledby": "table-h" },
        h("h2", { id: "table-h", class: "visually-hidden" }, "Charger list"),
        this.count,
        h("div", { class: "table-scroll" }, h("table", { class: "charger-table" }, h("thead", {}, this.headRow), this.tbody)),
        this.pager,
      ),
    );
  }

  async start() {
    const [sites, chargers] = await Promise.all([
      this.siteId ? api(`/sites/${this.siteId}`).then((s) => [s]) : listAll("/sites"),
      listAll(this.siteId ? `/chargers?site_id=${this.siteId}` : "/chargers"),
    ]);
    const [circuitLists, loads] = await Promise.all([
      Promise.all(sites.map((s) => listAll(`/sites/${s.id}/circuits`))),
      Promise.all(sites.map((s) => readLoad(s.id))),
    ]);
    this.sites = new Map(sites.map((s) => [s.id, s]));
    this.circuits = new Map(circuitLists.flat().map((c) => [c.id, c]));
    const notFollowing = new Set(loads.flatMap((l) => [...notFollowingIds(l)]));
    this.all = chargers.map((c) => ({
      charger: c,
      site: this.sites.get(c.site_id)?.name ?? "",
      circuit: c.circuit_id ? (this.circuits.get(c.circuit_id)?.name ?? "") : c.site_id ? "main fuse" : "",
      flags: chargerFlags(c, notFollowing),
      search: [c.ocpp_id, c.vendor, c.model, c.serial_number, c.firmware_version].filter(Boolean).join(" ").toLowerCase(),
    }));
    const title = this.siteId ? `Chargers of ${sites[0].name}` : "Chargers";
    this.heading.textContent = title;
    this.buildControls();
    this.buildHead();
    this.apply();
    return title;
  }

  stop() {}

  buildControls() {
    const statuses = [...new Set(this.all.map((r) => r.charger.status))].sort();
    const circuits = [...this.circuits.values()]
      .filter((c) => !this.siteId || c.site_id === this.siteId)
      .sort((a, b) => collator.compare(a.name, b.name));
    const field = (name, label, control) => {
      control.id = `chargers-${name}`;
      control.name = name;
      control.addEventListener("input", () => this.apply(true));
      return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
    };
    const select = (options) => h("select", {}, options.map((o) => h("option", { value: o.value }, o.label)));
    replaceChildren(
      this.controls,
      h(
        "div",
        { class: "filter-fields" },
        field("q", "Search", h("input", { type: "search", placeholder: "OCPP id, vendor, model, serial", autocomplete: "off", spellcheck: "false" })),
        field("status", "Status", select([{ value: "", label: "any" }, ...statuses.map((s) => ({ value: s, label: statusWord(s) }))])),
        field("online", "Link", select([{ value: "", label: "any" }, { value: "yes", label: "online" }, { value: "no", label: "offline" }])),
        field(
          "circuit",
          "Circuit",
          select([
            { value: "", label: "any" },
            { value: "none", label: "main fuse (no circuit)" },
            ...circuits.map((c) => ({ value: c.id, label: this.siteId ? c.name : `${c.name} (${this.sites.get(c.site_id)?.name ?? "?"})` })),
          ]),
        ),
        field("flag", "Needs attention", select([{ value: "", label: "any" }, { value: "any", label: "any flag" }, ...Object.entries(FLAG_WORDS).map(([value, label]) => ({ value, label }))])),
        // The column headers sort too; phones hide them, so the order is also chosen here.
        field(
          "sort",
          "Sort by",
          select(COLUMNS.flatMap((c) => [{ value: `${c.key}:1`, label: `${c.label} ↑` }, { value: `${c.key}:-1`, label: `${c.label} ↓` }])),
        ),
      ),
    );
    this.controls.addEventListener("submit", (event) => event.preventDefault());
  }

  buildHead() {
    replaceChildren(
      this.headRow,
      COLUMNS.map((col) => {
        const active = this.sort.key === col.key;
        return h(
          "th",
          { scope: "col", "aria-sort": active ? (this.sort.dir > 0 ? "ascending" : "descending") : "none", dataset: { column: col.key } },
          h(
            "button",
            { type: "button", class: "sort", onclick: () => this.sortBy(col.key) },
            col.label,
            h("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (this.sort.dir > 0 ? " ▲" : " ▼") : ""),
          ),
        );
      }),
    );
  }

  sortBy(key) {
    this.sort = this.sort.key === key ? { key, dir: -this.sort.dir } : { key, dir: 1 };
    this.controls.querySelector('[name="sort"]').value = `${key}:${this.sort.dir}`;
    this.buildHead();
    this.apply();
    this.headRow.querySelector(`th[data-column="${key}"] button`)?.focus();
  }

  value(name) {
    return this.controls.querySelector(`[name="${name}"]`)?.value.trim() ?? "";
  }

  /** Filters and sorts in memory; `restart` goes back to the first page. */
  apply(restart = false) {
    if (restart) this.page = 0;
    const [sortKey, sortDir] = this.value("sort").split(":");
    if (sortKey && (sortKey !== this.sort.key || Number(sortDir) !== this.sort.dir)) {
      this.sort = { key: sortKey, dir: Number(sortDir) };
      this.buildHead();
    }
    const q = this.value("q").toLowerCase();
    const status = this.value("status");
    const online = this.value("online");
    const circuit = this.value("circuit");
    const flag = this.value("flag");
    const rows = this.all.filter(({ charger, search, flags }) => {
      if (q && !search.includes(q)) return false;
      if (status && charger.status !== status) return false;
      if (online && charger.online !== (online === "yes")) return false;
      if (circuit === "none" ? charger.circuit_id : circuit && charger.circuit_id !== circuit) return false;
      if (flag === "any" ? !flags.length : flag && !flags.includes(flag)) return false;
      return true;
    });
    const { key, dir } = this.sort;
    const sortValue = (r) => {
      if (key === "site" || key === "circuit") return r[key];
      if (key === "flags") return r.flags.length ? r.flags.map((f) => Object.keys(FLAG_WORDS).indexOf(f)).join("") : "9";
      if (key === "online") return r.charger.online ? "1" : "0";
      return String(r.charger[key] ?? "");
    };
    rows.sort((a, b) => dir * collator.compare(sortValue(a), sortValue(b)) || collator.compare(a.charger.ocpp_id, b.charger.ocpp_id));
    this.rows = rows;
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    this.page = Math.min(this.page, pages - 1);
    this.render(pages);
  }

  render(pages) {
    const first = this.page * PAGE;
    const shown = this.rows.slice(first, first + PAGE);
    this.el.dataset.matches = String(this.rows.length);
    replaceChildren(
      this.tbody,
      shown.length
        ? shown.map((r) => this.row(r))
        : h("tr", {}, h("td", { colspan: String(COLUMNS.length), class: "empty" }, this.all.length ? "No charger matches." : "No chargers yet.")),
    );
    this.count.textContent = this.rows.length
      ? `${first + 1}–${first + shown.length} of ${this.rows.length} chargers${this.rows.length < this.all.length ? ` (${this.all.length} in all)` : ""}`
      : `0 of ${this.all.length} chargers`;
    const go = (page) => {
      this.page = page;
      this.render(pages);
    };
    replaceChildren(
      this.pager,
      pages > 1
        ? [
            h("button", { type: "button", disabled: this.page === 0, onclick: () => go(this.page - 1) }, "Previous"),
            h("span", {}, `Page ${this.page + 1} of ${pages}`),
            h("button", { type: "button", disabled: this.page >= pages - 1, onclick: () => go(this.page + 1) }, "Next"),
          ]
        : null,
    );
  }

  row({ charger, site, circuit, flags }) {
    return h(
      "tr",
      { dataset: { chargerId: charger.id }, class: flags.length ? "attention" : null },
      h("td", { dataset: { label: "Charger" } }, h("a", { href: `#/chargers/${charger.id}` }, charger.ocpp_id)),
      h("td", { dataset: { label: "Site" } }, site || "—"),
      h("td", { dataset: { label: "Circuit" } }, circuit || "—"),
      h("td", { dataset: { label: "Status" } }, h("span", { class: statusClass(charger.status) }, statusWord(charger.status))),
      h("td", { dataset: { label: "Link" } }, h("span", { class: `online ${charger.online ? "yes" : "no"}` }, charger.online ? "online" : "offline")),
      h("td", { dataset: { label: "Needs attention" } }, flags.length ? h("span", { class: "flags" }, flagBadges(flags, charger)) : "—"),
      h("td", { dataset: { label: "OCPP" } }, charger.ocpp_version ?? "—"),
      h("td", { dataset: { label: "Last seen" } }, charger.last_seen_at ? new Date(charger.last_seen_at).toLocaleString() : "never"),
    );
  }
}

async function readLoad(siteId) {
  try {
    return await api(`/sites/${siteId}/load`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}
