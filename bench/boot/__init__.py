"""Boot storm benchmark: boot accepted -> failsafe acknowledged (python -m bench.boot)."""
