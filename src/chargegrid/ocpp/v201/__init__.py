"""OCPP 2.0.1 adapter: messages to and from the shared domain."""
