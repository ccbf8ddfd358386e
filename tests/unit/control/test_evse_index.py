"""EvseIndex is a set of EVSE keys that drops a charger's at once: it must agree with
the plain set it replaced (filtering by charger) after any sequence of changes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chargegrid.control.apply import EvseKey
from chargegrid.control.evse_index import EvseIndex

keys = st.builds(EvseKey, st.sampled_from(["A", "B", "C"]), st.integers(1, 3))
steps = st.lists(st.one_of(st.tuples(st.just("add"), keys), st.tuples(st.just("drop"), keys)))


@given(steps)
def test_agrees_with_a_plain_set(operations: list[tuple[str, EvseKey]]) -> None:
    index: EvseIndex[EvseKey] = EvseIndex()
    model: set[EvseKey] = set()
    for operation, key in operations:
        if operation == "add":
            index.add(key)
            model.add(key)
        else:
            index.drop(key.charger_id)
            model = {k for k in model if k.charger_id != key.charger_id}
    assert set(index) == model and len(index) == len(model)
    for charger in "ABC":
        assert index.of(charger) == {k for k in model if k.charger_id == charger}
    for number in range(1, 4):
        assert (EvseKey("A", number) in index) == (EvseKey("A", number) in model)
    assert "A" not in index  # not a key at all
