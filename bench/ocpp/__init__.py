"""OCPP throughput and memory benchmark: ours against a plain ``ocpp`` package baseline."""
