"""The operator's dashboard: a static single-page app served from the package."""

from chargegrid.web.mount import mount

__all__ = ["mount"]
