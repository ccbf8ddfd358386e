"""``SimStation201``: one simulated OCPP 2.0.1 charging station.

The physics, the cars, the outbox, reconnects, reboots and every fault are the shared
simulator's (``SimCharger``); the layers below it put them on the 2.0.1 wire:
``Link201`` -> ``Transactions201`` -> ``SmartCharging201`` -> ``Reports201`` ->
``Commands201``. Each of the spec's connectors is one EVSE (evseId n) with one connector
(connectorId 1).
"""

from __future__ import annotations

from chargegrid.sim.v201.commands import Commands201


class SimStation201(Commands201):
    pass
