"""Pure domain: entities' value types, phases and rotation, units, status mapping, errors.

Nothing here imports a framework, a database driver or a network library.
"""
