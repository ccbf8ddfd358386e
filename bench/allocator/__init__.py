"""Benchmarks of the load manager's allocator: speed against HiGHS, quality on ACN data."""
