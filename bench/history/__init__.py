"""The load history's cost: CPU on the event path, bytes per charger per day."""
