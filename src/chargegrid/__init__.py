"""chargegrid: an open-source CSMS with a phase-aware load manager."""

__version__ = "0.1.0"
