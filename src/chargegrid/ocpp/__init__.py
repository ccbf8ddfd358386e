"""OCPP-J central system: frames, fast validation, connections, handlers, gateway, server."""
