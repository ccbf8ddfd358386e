"""The site's fuse tree turned into flat numbered resources.

A resource is one (node, grid phase) pair, numbered ``node_index * 3 + phase.index`` so
the hot loops work on plain lists. A session loads every resource on the path from its
node up to the site for each grid phase it uses.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain, compress
from operator import add, attrgetter, ne, sub
from typing import TYPE_CHECKING

from chargegrid.balancing.model import Node, NodeLoad, PhaseAmps, make_node_loads
from chargegrid.balancing.rows import RowBook
from chargegrid.balancing.switching import Option, Wired, Wiring
from chargegrid.balancing.wiring import Network, compile_network, wired
from chargegrid.domain.errors import ErrorCollector, InvalidValue
from chargegrid.domain.phases import ALL_PHASES, Phase, PhaseRotation

if TYPE_CHECKING:  # only the type; subtrees.py needs nothing from here (its Shape)
    from chargegrid.balancing.subtrees import Subtrees

# Allocation runs on a grid of whole micro-amps so admission sums are exact integers and
# plans read 16.0, not 15.9999999; far below what any charger resolves (0.1 A).
MICRO = 1_000_000
# Float products like 6.1 * 1e6 land a hair off the integer they mean.
SNAP_MICRO = 1e-3
# A resource whose exact sum of currents comes this close to its free current (limit -
# unmanaged - reserved, in floats) gets the exact safety check, which also counts the
# held load exactly; float rounding of the free current itself is far smaller.
SUSPECT_MARGIN_A = 2e-6


def micro_floor(amps: float) -> int:
    """Whole µA at most ``amps`` (a capacity or a maximum: never round up)."""
    value = math.floor(amps * MICRO + SNAP_MICRO)
    return value - 1 if value / MICRO > amps else value


def micro_ceil(amps: float) -> int:
    """Whole µA at least ``amps`` (a minimum: never round down)."""
    value = math.ceil(amps * MICRO - SNAP_MICRO)
    return value + 1 if value / MICRO < amps else value


def finite(value: float, field_name: str, errors: ErrorCollector) -> float:
    if not isinstance(value, int | float) or math.isnan(value) or math.isinf(value):
        errors.add(field_name, f"must be a finite number, not {value!r}")
        return 0.0
    return float(value)


@dataclass(frozen=True, slots=True)
class NodeValues:
    """Per node (id order) the limits and held loads of one call, and per resource what
    follows from them. Kept per topology: the next call recomputes only the nodes whose
    values changed (usually a meter or two), not every node and phase."""

    limits: tuple[PhaseAmps, ...]
    unmanaged: tuple[PhaseAmps, ...]
    reserved: tuple[PhaseAmps, ...]
    # Per resource:
    limit: tuple[float, ...]
    held: tuple[tuple[float, float], ...]
    # limit - unmanaged - reserved, floored at 0; the same in whole µA, rounded down.
    capacity: tuple[float, ...]
    capacity_micro: tuple[int, ...]
    # limit - unmanaged - reserved, unfloored (a node report's headroom before its
    # allocation is taken off).
    free: tuple[float, ...]
    # An exact sum of currents at least this high gets the exact safety check.
    suspect_at: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Topology:
    """What a tree's structure alone decides (ids, parents, rotations), compiled once and
    reused while the site's wiring does not change: the control loop rebuilds its
    problem on every meter reading, but the tree's shape changes only on configuration.
    """

    # Input position of each node, in id order.
    order: tuple[int, ...]
    ids: tuple[str, ...]
    index: dict[str, int]
    root: int
    ancestors: tuple[tuple[int, ...], ...]
    # Per node, the depth-first (pre-order) positions its subtree covers:
    # [dfs_start, dfs_stop). Sessions sorted by their node's position make every
    # node's sessions (its own and all below) one run.
    dfs_start: tuple[int, ...]
    dfs_stop: tuple[int, ...]
    to_grid: tuple[PhaseRotation, ...]
    # Resource lists per (node index, grid phases), filled in as sessions ask for them.
    resources_of: dict[tuple[int, tuple[Phase, ...]], list[int]]
    # A connector layout with its resource lists, per (node index, connector rotation,
    # power type, used terminals, may switch).
    wired: dict[tuple[object, ...], Wired]
    # The layouts themselves per (rotation to the grid, ...): sites repeat a handful,
    # so each is composed once, whatever node it is at.
    layouts: dict[tuple[object, ...], Wiring]
    # The node values of the last call and what was derived from them (one slot,
    # replaced whole, so a concurrent reader always sees a consistent set).
    last_values: list[NodeValues | None]
    # The sessions' depth-first runs of the last call, with what they were built from
    # (the admitted sessions' nodes and options): usually the same set is admitted again.
    last_runs: list[tuple[list[int], list[Option], Subtrees] | None]
    # Line-to-line loads and transformers (``balancing.wiring``); None where the tree
    # has neither, as most have.
    network: Network | None = None

    def in_id_order(self, nodes: tuple[Node, ...]) -> tuple[Node, ...]:
        return tuple([nodes[i] for i in self.order])

    def resources(self, node_index: int, phases: tuple[Phase, ...]) -> list[int]:
        key = (node_index, phases)
        found = self.resources_of.get(key)
        if found is None:
            offsets = [int(p) - 1 for p in phases]
            found = [a * 3 + i for a in self.ancestors[node_index] for i in offsets]
            self.resources_of[key] = found
        return found


@dataclass(frozen=True, slots=True)
class Tree:
    nodes: tuple[Node, ...]
    index: dict[str, int]
    root: int
    # Node indices from the node itself up to the root.
    ancestors: tuple[tuple[int, ...], ...]
    # Each node's rotation to the grid (site rotation composed down to it).
    to_grid: tuple[PhaseRotation, ...]
    # Per resource: limit - unmanaged - reserved, floored at 0 (an overloaded node
    # leaves nothing for its sessions; it does not make the problem unsolvable).
    capacity: tuple[float, ...]
    # The same in whole µA, rounded down.
    capacity_micro: tuple[int, ...]
    # Per resource: the limit and (unmanaged, reserved), for the exact safety check.
    limit: tuple[float, ...]
    held: tuple[tuple[float, float], ...]
    shape: Topology
    values: NodeValues
    # The network's rows of this call (fresh per call: it keeps what admission and
    # filling took from them), numbered after the per-phase resources.
    rows: RowBook | None = None

    @property
    def resource_count(self) -> int:
        return len(self.nodes) * 3

    def resources(self, node_index: int, phases: tuple[Phase, ...]) -> list[int]:
        """The resources a session at ``node_index`` loads on ``phases`` (a shared,
        memoised list: do not change it)."""
        return self.shape.resources(node_index, phases)

    def overshoot(self, resource: int, parts: list[float]) -> float:
        """How far ``parts`` (the sessions' currents on ``resource``) take it over its
        limit, summed exactly; > 0 is unsafe. A node whose unmanaged and reserved load
        already fill it may carry nothing at all."""
        if not any(p > 0.0 for p in parts):
            return 0.0
        unmanaged, reserved = self.held[resource]
        ceiling = max(self.limit[resource], math.fsum((unmanaged, reserved)))
        return math.fsum((unmanaged, reserved, *parts)) - ceiling

    def describe(self, resource: int) -> tuple[str, Phase]:
        return self.nodes[resource // 3].id, ALL_PHASES[resource % 3]


# Compiled topologies of the sites seen last, keyed by their structure. A CSMS runs
# one control loop per site; a few dozen entries cover a large installation. An entry
# holds about 1.8 MB per 1,000 nodes (measured with tracemalloc).
_TOPOLOGY_CACHE_SIZE = 64
_topologies: OrderedDict[tuple[object, ...], Topology] = OrderedDict()
_topologies_lock = threading.Lock()
# The topology used last, with its key (one slot, replaced whole).
_last: list[tuple[tuple[object, ...], Topology] | None] = [None]
_ids = attrgetter("id")
_parents = attrgetter("parent_id")
_wiring = attrgetter("rotation.targets")
# Two tuples of mostly the same singletons (False, None): cheaper than a pair per node.
_phasor_lines = attrgetter("phasor_lines")
_transformer = attrgetter("transformer")
_limits = attrgetter("limit")
_unmanaged = attrgetter("unmanaged")
_reserved = attrgetter("reserved")


def topology(nodes: tuple[Node, ...]) -> Topology:
    """The compiled structure of ``nodes``, from the cache when the same structure (same
    ids, parents and rotations, in the same order) was compiled before.

    Raises ``InvalidValue`` for a broken structure, exactly as ``build_tree`` documents;
    broken structures are never cached.
    """
    key = (
        tuple(map(_ids, nodes)),
        tuple(map(_parents, nodes)),
        tuple(map(_wiring, nodes)),
        tuple(map(_phasor_lines, nodes)),
        tuple(map(_transformer, nodes)),
    )
    # A site's control loop asks for its own topology again and again: comparing with
    # the last one saves hashing every id of a freshly built problem.
    last = _last[0]
    if last is not None and last[0] == key:
        return last[1]
    with _topologies_lock:
        found = _topologies.get(key)
        if found is not None:
            _topologies.move_to_end(key)
    if found is None:
        found = compile_topology(nodes)
        with _topologies_lock:
            _topologies[key] = found
            if len(_topologies) > _TOPOLOGY_CACHE_SIZE:
                _topologies.popitem(last=False)
    _last[0] = (key, found)
    return found


def clear_topology_cache() -> None:
    """Forget every compiled topology (benchmarks measure the first call with it)."""
    with _topologies_lock:
        _topologies.clear()
        _last[0] = None


def compile_topology(nodes: tuple[Node, ...]) -> Topology:
    """Check the tree's structure and number its nodes in id order (no cache)."""
    # Numbering resources by node id makes ties (two fuses filling at the same level)
    # resolve the same way whatever order the caller listed the nodes in.
    order = tuple(sorted(range(len(nodes)), key=lambda i: nodes[i].id))
    nodes = tuple(nodes[i] for i in order)
    errors = ErrorCollector()
    index: dict[str, int] = {}
    for i, node in enumerate(nodes):
        if node.id in index:
            errors.add(f"nodes[{nodes[i].id}].id", f"duplicate node id {node.id!r}")
        index[node.id] = i
    roots = [i for i, node in enumerate(nodes) if node.parent_id is None]
    if len(roots) != 1:
        errors.add("nodes", f"need exactly one site root, found {len(roots)}")
    for i, node in enumerate(nodes):
        if node.parent_id is not None and node.parent_id not in index:
            errors.add(f"nodes[{nodes[i].id}].parent_id", f"unknown node {node.parent_id!r}")
    errors.raise_if_any()

    parents = [index[n.parent_id] if n.parent_id is not None else -1 for n in nodes]
    full_paths = _paths(nodes, parents)
    to_grid = _rotations_to_grid(nodes, full_paths)
    network = None
    if wired(nodes):
        network = compile_network(nodes, full_paths, to_grid)
        # A transformer's per-phase resources end at it: the lines above carry its
        # primary currents, which the network's rows count.
        parents = [
            -1 if n.transformer is not None else p for n, p in zip(nodes, parents, strict=True)
        ]
    ancestors = _paths(nodes, parents) if network is not None else full_paths
    # Root-first paths in lexicographic order are a depth-first pre-order.
    start = [0] * len(nodes)
    for position, k in enumerate(sorted(range(len(nodes)), key=lambda i: ancestors[i][::-1])):
        start[k] = position
    sizes = [1] * len(nodes)
    for k in sorted(range(len(nodes)), key=lambda i: -len(ancestors[i])):
        if parents[k] != -1:
            sizes[parents[k]] += sizes[k]
    return Topology(
        order=order,
        ids=tuple(node.id for node in nodes),
        index=index,
        root=roots[0],
        ancestors=tuple(ancestors),
        dfs_start=tuple(start),
        dfs_stop=tuple(map(add, start, sizes)),
        to_grid=tuple(to_grid),
        resources_of={},
        wired={},
        layouts={},
        last_values=[None],
        last_runs=[None],
        network=network,
    )


def build_tree(nodes: tuple[Node, ...]) -> Tree:
    """Check the tree's structure and number its resources.

    Raises ``InvalidValue`` for a broken structure (no or several roots, an unknown
    parent, a cycle, a duplicate id, a rotation its parent cannot carry, a value that is
    not a number): those are configuration errors the API must refuse. Limits below the
    load already on a node are *not* errors: its sessions get 0.
    """
    shape = topology(nodes)
    nodes = shape.in_id_order(nodes)
    limits = tuple(map(_limits, nodes))
    unmanaged = tuple(map(_unmanaged, nodes))
    reserved = tuple(map(_reserved, nodes))
    last = shape.last_values[0]
    values = None if last is None else _patched(last, limits, unmanaged, reserved)
    if values is None:
        values = _node_values(nodes, limits, unmanaged, reserved)
    shape.last_values[0] = values
    rows = None
    if shape.network is not None:
        values, rows = _wired_values(shape.network, nodes, values)
    return Tree(
        nodes=nodes,
        index=shape.index,
        root=shape.root,
        ancestors=shape.ancestors,
        to_grid=shape.to_grid,
        capacity=values.capacity,
        capacity_micro=values.capacity_micro,
        limit=values.limit,
        held=values.held,
        shape=shape,
        values=NodeValues(
            limits,
            unmanaged,
            reserved,
            values.limit,
            values.held,
            values.capacity,
            values.capacity_micro,
            values.free,
            values.suspect_at,
        ),
        rows=rows,
    )


def _wired_values(
    network: Network, nodes: tuple[Node, ...], values: NodeValues
) -> tuple[NodeValues, RowBook]:
    """A phasor node's per-phase resources relaxed by ``wiring.RELAX`` (its rows bind
    first), and the rows' capacities of this call."""
    relax = [r for r in network.relax for _ in range(3)]
    limit, capacity = list(values.limit), list(values.capacity)
    suspect_at = list(values.suspect_at)
    for k, factor in enumerate(relax):
        if factor != 1.0 and capacity[k] > 0.0:
            capacity[k] *= factor
            limit[k] = math.fsum(values.held[k]) + capacity[k]
            suspect_at[k] = capacity[k] - SUSPECT_MARGIN_A
    relaxed = NodeValues(
        values.limits,
        values.unmanaged,
        values.reserved,
        tuple(limit),
        values.held,
        tuple(capacity),
        _micro_floors(capacity),
        values.free,
        tuple(suspect_at),
    )
    free = network.free(nodes)
    row_capacity = network.capacities(free)
    return relaxed, RowBook(network, 3 * len(nodes), free, row_capacity)


def _node_values(
    nodes: tuple[Node, ...],
    limits: tuple[PhaseAmps, ...],
    unmanaged_per_node: tuple[PhaseAmps, ...],
    reserved_per_node: tuple[PhaseAmps, ...],
) -> NodeValues:
    """Check every node's values and derive the per-resource ones."""
    limit = list(chain.from_iterable(limits))
    unmanaged = list(chain.from_iterable(unmanaged_per_node))
    reserved = list(chain.from_iterable(reserved_per_node))
    # NaN and infinities survive a sum, so one check covers the common all-good case.
    if not math.isfinite(sum(limit) + sum(unmanaged) + sum(reserved)):
        _raise_for_bad_numbers(nodes)
    # One addition is already correctly rounded; no fsum needed for two terms.
    capacity = [
        cap - (u + r) if cap > u + r else 0.0
        for cap, u, r in zip(limit, unmanaged, reserved, strict=True)
    ]
    free = [cap - u - r for cap, u, r in zip(limit, unmanaged, reserved, strict=True)]
    return NodeValues(
        limits,
        unmanaged_per_node,
        reserved_per_node,
        tuple(limit),
        tuple(zip(unmanaged, reserved, strict=True)),
        tuple(capacity),
        _micro_floors(capacity),
        tuple(free),
        tuple([f - SUSPECT_MARGIN_A for f in free]),
    )


def _raise_for_bad_numbers(nodes: tuple[Node, ...]) -> None:
    errors = ErrorCollector()
    for node in nodes:
        for name in ("limit", "unmanaged", "reserved"):
            for v in getattr(node, name):
                finite(v, f"nodes[{node.id}].{name}", errors)
    errors.raise_if_any()


def _changed(new: tuple[PhaseAmps, ...], old: tuple[PhaseAmps, ...]) -> Iterable[int]:
    """Positions where ``new`` differs from ``old`` (equal lengths), compared in C."""
    if new == old:
        return ()
    return compress(range(len(new)), map(ne, new, old))


def _patched(
    last: NodeValues,
    limits: tuple[PhaseAmps, ...],
    unmanaged: tuple[PhaseAmps, ...],
    reserved: tuple[PhaseAmps, ...],
) -> NodeValues | None:
    """``last`` with the nodes whose values changed recomputed, exactly as
    ``_node_values`` would; None when anything is unusual (a value that is not a finite
    number, a per-phase value without three entries): the full path then checks it."""
    changed = sorted(
        {
            *_changed(limits, last.limits),
            *_changed(unmanaged, last.unmanaged),
            *_changed(reserved, last.reserved),
        }
    )
    if not changed:
        return NodeValues(
            limits,
            unmanaged,
            reserved,
            last.limit,
            last.held,
            last.capacity,
            last.capacity_micro,
            last.free,
            last.suspect_at,
        )
    limit, held = list(last.limit), list(last.held)
    capacity, capacity_micro = list(last.capacity), list(last.capacity_micro)
    free, suspect_at = list(last.free), list(last.suspect_at)
    for node in changed:
        triples = (limits[node], unmanaged[node], reserved[node])
        if any(len(t) != 3 for t in triples):
            return None
        for phase, (cap, u, r) in enumerate(zip(*triples, strict=True)):
            if not (_is_number(cap) and _is_number(u) and _is_number(r)):
                return None
            k = node * 3 + phase
            limit[k] = cap
            held[k] = (u, r)
            capacity[k] = cap - (u + r) if cap > u + r else 0.0
            capacity_micro[k] = micro_floor(capacity[k])
            free[k] = cap - u - r
            suspect_at[k] = free[k] - SUSPECT_MARGIN_A
    return NodeValues(
        limits,
        unmanaged,
        reserved,
        tuple(limit),
        tuple(held),
        tuple(capacity),
        tuple(capacity_micro),
        tuple(free),
        tuple(suspect_at),
    )


def _is_number(value: object) -> bool:
    return type(value) in (float, int) and math.isfinite(value)  # type: ignore[arg-type]


def _micro_floors(values: list[float]) -> tuple[int, ...]:
    """``micro_floor`` over a list, inlined: it runs for every node and phase."""
    out = [math.floor(v * MICRO + SNAP_MICRO) for v in values]
    for i, v in enumerate(values):
        if out[i] / MICRO > v:
            out[i] -= 1
    return tuple(out)


def _paths(nodes: tuple[Node, ...], parents: list[int]) -> list[tuple[int, ...]]:
    """Each node's path up to the root, built once per node from its parent's."""
    paths: list[tuple[int, ...] | None] = [None] * len(nodes)
    for start in range(len(nodes)):
        pending: list[int] = []
        i = start
        while i != -1 and paths[i] is None:
            pending.append(i)
            if len(pending) > len(nodes):
                raise InvalidValue.of(
                    f"nodes[{nodes[start].id}].parent_id", "the circuit tree has a cycle"
                )
            i = parents[i]
        above: tuple[int, ...] = () if i == -1 else paths[i]  # type: ignore[assignment]
        for j in reversed(pending):
            above = (j, *above)
            paths[j] = above
    return [p for p in paths if p is not None]


def _rotations_to_grid(
    nodes: tuple[Node, ...], paths: list[tuple[int, ...]]
) -> list[PhaseRotation]:
    """Compose site -> ... -> node for every node, parents first, memoising the few
    distinct (parent, child) rotation pairs."""
    # Keyed by identity: hashing the dataclasses would cost more than composing.
    composed: dict[tuple[int, int], PhaseRotation] = {}
    result: list[PhaseRotation | None] = [None] * len(nodes)
    for i in sorted(range(len(nodes)), key=lambda k: len(paths[k])):
        node = nodes[i]
        if len(paths[i]) == 1:
            result[i] = node.rotation
            continue
        parent = result[paths[i][1]]
        assert parent is not None
        key = (id(parent), id(node.rotation))
        rotation = composed.get(key)
        if rotation is None:
            try:
                rotation = composed[key] = parent.then(node.rotation)
            except InvalidValue as exc:
                raise InvalidValue.of(f"nodes[{node.id}].rotation", str(exc)) from exc
        result[i] = rotation
    return [r for r in result if r is not None]


def node_loads(tree: Tree, loads: list[float]) -> tuple[NodeLoad, ...]:
    """Every node's report from per-resource allocated currents (runs for every node on
    every call: whole-list arithmetic, regrouped per node by ``zip`` in C)."""
    per_node = iter(loads)
    room = iter(list(map(sub, tree.values.free, loads)))
    return make_node_loads(
        tree.shape.ids,
        tree.values.limits,
        tree.values.unmanaged,
        tree.values.reserved,
        tuple(zip(per_node, per_node, per_node, strict=True)),
        tuple(zip(room, room, room, strict=True)),
    )
