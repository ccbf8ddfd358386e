"""OCPP 1.6J: the central system's handlers and the post-boot exchange."""
