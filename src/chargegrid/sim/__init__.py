"""A fleet of virtual chargers and cars that speaks real OCPP 1.6J to any CSMS URL."""
