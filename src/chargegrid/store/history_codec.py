"""How a history sample's numbers are packed into ``history_samples.v``.

A row is a fixed list of numbers per kind (``FIELDS``), each scaled to an integer
(``SCALES``: amps to 0.01 A, watts to 10 W) and packed little-endian, 2 bytes each when
every number fits, else 4; the first byte says which. ``None`` (not known) is the
smallest value of the width. A full-resolution row holds the values; a downsampled row
holds the averages, then the maxima. A 12-number node row is 25 bytes where 12 REAL
columns would be 96 on SQLite, and a decode is one ``struct.unpack``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

Values = tuple[float | None, ...]

NODE_FIELDS: Final = tuple(
    f"{quantity}_{phase}"
    for quantity in ("limit", "allocated", "measured", "unmanaged")
    for phase in ("l1", "l2", "l3")
)
SESSION_FIELDS: Final = ("limit", "phases", "measured_l1", "measured_l2", "measured_l3", "power")
FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "site": NODE_FIELDS,
    "circuit": NODE_FIELDS,
    "session": SESSION_FIELDS,
}
# Integer units per unit: 0.01 A, whole phases, 10 W.
SCALES: Final[dict[str, tuple[float, ...]]] = {
    "site": (100.0,) * 12,
    "circuit": (100.0,) * 12,
    "session": (100.0, 1.0, 100.0, 100.0, 100.0, 0.1),
}

_NARROW, _WIDE = b"h", b"i"
_NARROW_NONE, _WIDE_NONE = -(2**15), -(2**31)
_NARROW_MAX, _WIDE_MAX = 2**15 - 1, 2**31 - 1


class CodecError(ValueError):
    pass


def encode(kind: str, values: Sequence[float | None]) -> bytes:
    """Pack one row (``len(FIELDS[kind])`` values, or twice that: averages then maxima)."""
    scales = SCALES[kind]
    width = len(scales)
    if len(values) not in (width, 2 * width):
        raise CodecError(f"{kind}: {len(values)} values, expected {width} or {2 * width}")
    ints: list[int | None] = [
        None if v is None else round(v * scales[i % width]) for i, v in enumerate(values)
    ]
    largest = max((abs(i) for i in ints if i is not None), default=0)
    if largest <= _NARROW_MAX:
        code, none = _NARROW, _NARROW_NONE
    elif largest <= _WIDE_MAX:
        code, none = _WIDE, _WIDE_NONE
    else:
        raise CodecError(f"{kind}: a value too large to record ({largest})")
    packed = [none if i is None else i for i in ints]
    return code + struct.pack(f"<{len(packed)}{code.decode()}", *packed)


def decode(kind: str, blob: bytes) -> Values:
    """The values ``encode`` packed, in their units (``None`` where unknown)."""
    scales = SCALES[kind]
    code = blob[:1]
    if code == _NARROW:
        size, none = 2, _NARROW_NONE
    elif code == _WIDE:
        size, none = 4, _WIDE_NONE
    else:
        raise CodecError(f"{kind}: unknown sample encoding {code!r}")
    count = (len(blob) - 1) // size
    ints = struct.unpack(f"<{count}{code.decode()}", blob[1:])
    width = len(scales)
    return tuple(None if i == none else i / scales[n % width] for n, i in enumerate(ints))
