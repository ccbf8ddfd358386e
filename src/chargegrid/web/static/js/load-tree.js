// The site's fuse tree: per node and grid phase, a bar of limit, allocated, measured and
// unmanaged current. Built once per tree shape; live messages only move the bars.
import { h, replaceChildren, setText } from "./dom.js";
import { amps, PHASE_LABEL, PHASES } from "./format.js";

/**
 * Nodes in the live-load shape (docs/load-api.md). Without live load, the configured tree
 * stands in: site and circuits with their limits only.
 */
export function configuredNodes(site, circuits) {
  const siteLimit = site.effective_available_current ?? {};
  const phaseOf = (limit) => ({ limit, allocated: null, measured: null, unmanaged: null });
  return [
    {
      id: site.id,
      kind: "site",
      name: site.name,
      parent_id: null,
      phases: Object.fromEntries(PHASES.map((p) => [p, phaseOf(siteLimit[p] ?? site.max_current)])),
    },
    ...circuits.map((c) => ({
      id: c.id,
      kind: "circuit",
      name: c.name,
      parent_id: c.parent_id ?? site.id,
      phases: Object.fromEntries(PHASES.map((p) => [p, phaseOf(c.max_current)])),
    })),
  ];
}

export class LoadTree {
  constructor() {
    this.el = h("ul", { class: "tree", "aria-label": "Fuse tree" });
    this.shape = "";
    this.bars = new Map(); // "<node id>/<phase>" -> {row, parts}
    this.names = new Map();
  }

  nodeName(id) {
    return this.names.get(id) ?? null;
  }

  /** Shows `nodes`; `chargersByNode` maps a node id to the chargers placed under it. */
  update(nodes, chargersByNode = new Map()) {
    const shape = JSON.stringify(nodes.map((n) => [n.id, n.parent_id, n.name]));
    const chargerShape = JSON.stringify([...chargersByNode].map(([k, v]) => [k, v.map((c) => c.id)]));
    if (shape + chargerShape !== this.shape) {
      this.shape = shape + chargerShape;
      this.build(nodes, chargersByNode);
    }
    for (const node of nodes) {
      for (const phase of PHASES) {
        const bar = this.bars.get(`${node.id}/${phase}`);
        if (bar) fillBar(bar, node.phases?.[phase] ?? null);
      }
    }
  }

  build(nodes, chargersByNode) {
    this.bars.clear();
    this.names = new Map(nodes.map((n) => [n.id, n.name]));
    const ids = new Set(nodes.map((n) => n.id));
    const root = nodes.find((n) => n.kind === "site");
    const children = new Map();
    for (const node of nodes) {
      if (node === root) continue;
      // A top-level circuit may name the site or nothing as its parent.
      const parent = node.parent_id && ids.has(node.parent_id) ? node.parent_id : root?.id;
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(node);
    }
    const renderNode = (node) => {
      const kids = children.get(node.id) ?? [];
      const chargers = chargersByNode.get(node.id) ?? [];
      return h(
        "li",
        { class: `node node-${node.kind}`, dataset: { nodeId: node.id, nodeKind: node.kind } },
        h(
          "div",
          { class: "node-head" },
          h("span", { class: "node-name" }, node.name),
          h("span", { class: "node-kind" }, node.kind === "site" ? "main fuse" : "circuit"),
          chargers.length
            ? h("span", { class: "node-chargers" }, chargers.map((c) => c.ocpp_id).join(", "))
            : null,
        ),
        h("div", { class: "bars" }, PHASES.map((phase) => this.makeBar(node, phase))),
        kids.length ? h("ul", {}, kids.map(renderNode)) : null,
      );
    };
    replaceChildren(this.el, root ? renderNode(root) : h("li", {}, "No site node in the load."));
  }

  makeBar(node, phase) {
    const parts = {
      unmanaged: h("div", { class: "seg unmanaged" }),
      allocated: h("div", { class: "seg allocated" }),
      measured: h("div", { class: "mark measured", title: "measured" }),
      value: h("span", { class: "value" }),
      limit: h("span", { class: "limit" }),
      detail: h("span", { class: "detail" }),
    };
    const row = h(
      "div",
      {
        class: "phase-bar",
        role: "meter",
        "aria-label": `${node.name} ${PHASE_LABEL[phase]}`,
        "aria-valuemin": "0",
        dataset: { node: node.id, phase },
      },
      h("span", { class: `phase-tag ${phase}` }, PHASE_LABEL[phase]),
      h("div", { class: "track" }, parts.unmanaged, parts.allocated, parts.measured),
      h("span", { class: "figures" }, parts.value, " / ", parts.limit),
      parts.detail,
    );
    const bar = { row, parts };
    this.bars.set(`${node.id}/${phase}`, bar);
    return row;
  }
}

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

function fillBar({ row, parts }, values) {
  const limit = num(values?.limit);
  const allocated = num(values?.allocated);
  const measured = num(values?.measured);
  const unmanaged = num(values?.unmanaged);
  row.classList.toggle("unused", limit === null);
  // Shown as the headline: what flows if metered, else what is handed out.
  const load = measured ?? (allocated === null ? null : allocated + (unmanaged ?? 0));
  const scale = Math.max(limit ?? 0, load ?? 0, (allocated ?? 0) + (unmanaged ?? 0), 1);
  const pct = (v) => `${Math.max(0, Math.min(100, ((v ?? 0) / scale) * 100)).toFixed(2)}%`;
  parts.unmanaged.style.width = pct(unmanaged);
  parts.allocated.style.width = pct(allocated);
  parts.measured.style.left = pct(measured);
  parts.measured.hidden = measured === null;
  row.classList.toggle("over", limit !== null && load !== null && load > limit + 0.05);
  setText(parts.value, load === null ? "—" : amps(load).replace(" A", ""));
  setText(parts.limit, amps(limit));
  setText(
    parts.detail,
    allocated === null && unmanaged === null
      ? "live load not available"
      : `allocated ${amps(allocated)} · measured ${amps(measured)} · unmanaged ${amps(unmanaged)}`,
  );
  const data = { limit, allocated, measured, unmanaged };
  for (const [key, value] of Object.entries(data)) {
    const text = value === null ? "" : String(value);
    if (row.dataset[key] !== text) row.dataset[key] = text;
  }
  if (limit !== null) row.setAttribute("aria-valuemax", String(limit));
  if (load !== null) row.setAttribute("aria-valuenow", String(load));
}
