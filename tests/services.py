"""Outside services the tests need: skip where absent on a laptop, fail under CI."""

from __future__ import annotations

import os
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(available: bool, what: str) -> None:
    """Skip with ``what`` as the reason, or fail under CI where every service must run."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} (CI must run this test)")
    pytest.skip(what)
