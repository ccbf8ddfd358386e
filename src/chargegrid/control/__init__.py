"""Live load management: from any change to the cars (DESIGN.md §3, docs/control-loop.md).

The pieces, each in its own module:

- ``ports``      what the loop needs from outside (command gateway, clock)
- ``profiles``   SetChargingProfile payloads (OCPP 1.6 and 2.0.1)
- ``apply``      diff a plan against what chargers acknowledged; reductions first
- ``debounce``   coalesce triggers per site into one recompute
- ``learner``    real phases and real draw of each session from its meter values
- ``meters``     electricity meters: unmanaged load, staleness
- ``view``       the live load JSON (docs/load-api.md)
- ``metrics``    Prometheus counters and histograms
- ``loop``       the wiring: bus events -> problem -> allocator -> apply -> view
"""
