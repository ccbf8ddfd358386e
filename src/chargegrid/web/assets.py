"""Where the dashboard's files live, and which bundled third-party files it needs."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"

# Installed by scripts/build-assets.sh from npm (never committed): the page cannot draw
# its chart without them, so their absence is reported instead of a half-working page.
VENDOR_FILES: tuple[str, ...] = ("vendor/uPlot.esm.js", "vendor/uPlot.min.css")


def missing_vendor_files(static_dir: Path = STATIC_DIR) -> list[str]:
    """The required vendor files that are not on disk, relative to ``static_dir``."""
    return [name for name in VENDOR_FILES if not (static_dir / name).is_file()]
