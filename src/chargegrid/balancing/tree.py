"""The site's fuse tree turned into flat numbered resources.

A resource is one (node, grid phase) pair, numbered ``node_index * 3 + phase.index`` so
the hot loops work on plain lists. A session loads every resource on the path from its
node up to the site for each grid phase it uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chargegrid.balancing.model import Node, NodeLoad, PhaseAmps
from chargegrid.domain.errors import ErrorCollector, InvalidValue
from chargegrid.domain.phases import Phase, PhaseRotation

# Allocation runs on a grid of whole micro-amps so admission sums are exact integers and
# plans read 16.0, not 15.9999999; far below what any charger resolves (0.1 A).
MICRO = 1_000_000
# Float products like 6.1 * 1e6 land a hair off the integer they mean.
SNAP_MICRO = 1e-3


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

    @property
    def resource_count(self) -> int:
        return len(self.nodes) * 3

    def resources(self, node_index: int, phases: tuple[Phase, ...]) -> list[int]:
        return [a * 3 + p.index for a in self.ancestors[node_index] for p in phases]

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
        return self.nodes[resource // 3].id, Phase(resource % 3 + 1)


def build_tree(nodes: tuple[Node, ...]) -> Tree:
    """Check the tree's structure and number its resources.

    Raises ``InvalidValue`` for a broken structure (no or several roots, an unknown
    parent, a cycle, a duplicate id, a rotation its parent cannot carry, a value that is
    not a number): those are configuration errors the API must refuse. Limits below the
    load already on a node are *not* errors: its sessions get 0.
    """
    # Numbering resources by node id makes ties (two fuses filling at the same level)
    # resolve the same way whatever order the caller listed the nodes in.
    nodes = tuple(sorted(nodes, key=lambda n: n.id))
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
    ancestors: list[tuple[int, ...]] = []
    for i in range(len(nodes)):
        chain = [i]
        while parents[chain[-1]] != -1:
            chain.append(parents[chain[-1]])
            if len(chain) > len(nodes):
                raise InvalidValue.of(
                    f"nodes[{nodes[i].id}].parent_id", "the circuit tree has a cycle"
                )
        ancestors.append(tuple(chain))

    to_grid: list[PhaseRotation] = []
    for i, path in enumerate(ancestors):
        rotation = nodes[path[-1]].rotation
        for j in reversed(path[:-1]):
            try:
                rotation = rotation.then(nodes[j].rotation)
            except InvalidValue as exc:
                raise InvalidValue.of(f"nodes[{nodes[i].id}].rotation", str(exc)) from exc
        to_grid.append(rotation)

    capacity: list[float] = []
    limits: list[float] = []
    held: list[tuple[float, float]] = []
    for i, node in enumerate(nodes):
        for p in range(3):
            limit = finite(node.limit[p], f"nodes[{nodes[i].id}].limit", errors)
            unmanaged = finite(node.unmanaged[p], f"nodes[{nodes[i].id}].unmanaged", errors)
            reserved = finite(node.reserved[p], f"nodes[{nodes[i].id}].reserved", errors)
            capacity.append(max(0.0, limit - math.fsum((unmanaged, reserved))))
            limits.append(limit)
            held.append((unmanaged, reserved))
    errors.raise_if_any()
    return Tree(
        nodes=nodes,
        index=index,
        root=roots[0],
        ancestors=tuple(ancestors),
        to_grid=tuple(to_grid),
        capacity=tuple(capacity),
        capacity_micro=tuple(micro_floor(c) for c in capacity),
        limit=tuple(limits),
        held=tuple(held),
    )


def node_load(tree: Tree, i: int, loads: list[float]) -> NodeLoad:
    """A node's report from per-resource allocated currents."""
    node = tree.nodes[i]
    allocated: PhaseAmps = (loads[i * 3], loads[i * 3 + 1], loads[i * 3 + 2])
    headroom = [
        node.limit[p] - node.unmanaged[p] - node.reserved[p] - allocated[p] for p in range(3)
    ]
    return NodeLoad(
        node_id=node.id,
        limit=node.limit,
        unmanaged=node.unmanaged,
        reserved=node.reserved,
        allocated=allocated,
        headroom=(headroom[0], headroom[1], headroom[2]),
    )
