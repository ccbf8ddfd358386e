"""The simulator's OCPP 2.0.1 wire: the same physics (cars, phases, profiles, DrawLog)
and the same faults as the 1.6 charger, spoken as a 2.0.1 charging station.

``wire.py`` (pure mappings), ``link.py`` (handshake, boot, status, heartbeats),
``transactions.py`` (TransactionEvent), ``smart_charging.py`` (profiles),
``device_model.py`` + ``variables.py`` (the device model), ``reports.py``
(Get/SetVariables, GetBaseReport, GetReport), ``commands.py`` (every other CSMS call),
``station.py`` (``SimStation201``, what the fleet runs).
"""
