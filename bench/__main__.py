"""``python -m bench``: run every benchmark package under bench/ (each a ``__main__``)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def main() -> None:
    here = Path(__file__).resolve().parent
    names = sorted(p.parent.name for p in here.glob("*/__main__.py"))
    chosen = sys.argv[1:] or names
    for name in chosen:
        print(f"== bench.{name}", flush=True)
        sys.argv = [f"bench.{name}"]
        runpy.run_module(f"bench.{name}", run_name="__main__")


if __name__ == "__main__":
    main()
