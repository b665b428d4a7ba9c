"""`tagwatch simulate`."""

from __future__ import annotations


def simulate_command() -> None:
    """Simulate a population of tagged subjects (not built yet)."""
    raise SystemExit("tagwatch simulate is being built")
