"""The reconnect storm (issue 13, part 2): ``python -m bench.storm``."""
