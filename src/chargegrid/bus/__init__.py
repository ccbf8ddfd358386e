"""Event bus: in-process by default (``bus.memory``); NATS for several nodes."""

from chargegrid.bus.memory import Event, EventBus, Subscription

__all__ = ["Event", "EventBus", "Subscription"]
