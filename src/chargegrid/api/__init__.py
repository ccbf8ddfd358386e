"""REST API: routers per resource, schemas, auth, problem+json errors."""
