"""The built-in certificate authority for OCPP security profiles 2 and 3 (docs/security.md)."""
