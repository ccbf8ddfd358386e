"""Stateful Schemathesis over the whole REST API (issue 13): ``python -m bench.api_fuzz``."""
