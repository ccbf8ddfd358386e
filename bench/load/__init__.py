"""Benchmarks of the live load control loop (python -m bench.load)."""
