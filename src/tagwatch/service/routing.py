"""Which partition of a partitioned log a device's records go to.

Every device's records go to its own partition, except a curfew's home beacon (home
monitoring unit): the engine judges its in-range and out-of-range events with the curfew
of the tag it serves, so they must reach the monitor that owns that tag's partition. The
beacon's records are therefore published as if they were the tag's (`BeaconRoutes`); the
monitor owning the tag has the beacon in its rule book (`CompiledRules.beacon_tags`).

The table comes from the store (curfews with a beacon, and the tags fitted to their
subjects now) and is re-read every `refresh_s` seconds, so a new curfew or a tag swap
re-routes its beacon within that time. Between the change and the refresh, a beacon's
records go to the old partition: the monitor that owns it stores them, and the tag's
monitor reads them from the store when it rebuilds. A beacon shared by two tags in
different partitions goes with the first (by device id) of them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from tagwatch.service.clock import Clock
from tagwatch.store.contract import UnitOfWork

logger = logging.getLogger(__name__)

DEFAULT_REFRESH_S = 30.0


class BeaconRoutes:
    """`routes(device_id)` -> the device whose partition takes the records (thread-safe)."""

    def __init__(
        self,
        store: UnitOfWork,
        clock: Clock,
        *,
        refresh_s: float = DEFAULT_REFRESH_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._refresh_s = refresh_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._table: dict[str, str] = {}
        self._read_at: float | None = None

    def __call__(self, device_id: str) -> str:
        return self._current().get(device_id, device_id)

    def _current(self) -> dict[str, str]:
        with self._lock:
            now = self._monotonic()
            if self._read_at is None or now - self._read_at >= self._refresh_s:
                try:
                    self._table = beacon_table(self._store, self._clock)
                except Exception:  # the store is down: keep routing as before, retry later
                    logger.exception("reading the beacon routes failed; keeping the old ones")
                self._read_at = now
            return self._table


def beacon_table(store: UnitOfWork, clock: Clock) -> dict[str, str]:
    """Beacon device id -> the tag it goes with, for every curfew with a beacon."""
    curfews = [c for c in store.curfews.list_curfews() if c.beacon_device_id is not None]
    if not curfews:
        return {}
    beacons = {c.beacon_device_id for c in curfews}
    tags: dict[str, str] = {}
    for assignment in sorted(
        store.assignments.list_assignments(at=clock.now()), key=lambda a: a.device_id
    ):
        if assignment.device_id not in beacons:
            tags.setdefault(assignment.subject_id, assignment.device_id)
    return {
        curfew.beacon_device_id: tags[curfew.subject_id]
        for curfew in curfews
        if curfew.beacon_device_id is not None and curfew.subject_id in tags
    }
