"""Request and response bodies of the REST API (API.md field names)."""
