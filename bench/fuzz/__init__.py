"""The long OCPP fuzz run (issue 13): ``python -m bench.fuzz``."""
