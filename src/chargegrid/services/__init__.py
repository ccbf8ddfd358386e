"""Use cases: configuration, charger messages, the control loop. They talk to ports."""
