"""Send a simulation's fixes to an OsmAnd listener over real HTTP, in compressed time.

Fixes go out in arrival order (`received_at`), each at the wall time its arrival maps to:
`start_wall + (received_at - sim_start) / speedup`. The query carries the fix's own
`fix_time`, so data a tag buffered in a dead spot arrives late and out of order exactly as
simulated. A few worker threads each keep one HTTP/1.1 connection alive; a device's fixes
always go through the same worker, so they are sent in the simulated order.
"""

from __future__ import annotations

import http.client
import queue
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from tagwatch.domain.positions import Fix
from tagwatch.protocols.osmand import KNOT_MPS, R95_PER_R68

WORKERS = 4
RETRIES = 2
TIMEOUT_S = 10.0


@dataclass(slots=True)
class FeedProgress:
    """What the feed has done so far (read by `on_progress`; updated under the feed's lock)."""

    total: int
    sent: int = 0
    failed: int = 0
    sim_now: datetime | None = None  # the simulated arrival time the feed has reached
    done: bool = False


def osmand_query(fix: Fix, battery_pct: float | None = None) -> str:
    """The OsmAnd query string of one fix (accuracy sent as the 68 % radius apps report)."""
    params: dict[str, str] = {
        "id": fix.device_id,
        "timestamp": f"{fix.fix_time.timestamp():.3f}".rstrip("0").rstrip("."),
        "lat": f"{fix.lat:.7f}",
        "lon": f"{fix.lon:.7f}",
        "accuracy": f"{fix.accuracy_m / R95_PER_R68:.2f}",
    }
    if not fix.valid:
        params["valid"] = "false"
    if fix.speed_mps is not None:
        params["speed"] = f"{fix.speed_mps / KNOT_MPS:.2f}"
    if fix.heading_deg is not None:
        params["bearing"] = f"{fix.heading_deg:.1f}"
    if fix.altitude_m is not None:
        params["altitude"] = f"{fix.altitude_m:.1f}"
    if fix.satellites is not None:
        params["sat"] = str(fix.satellites)
    if fix.hdop is not None:
        params["hdop"] = f"{fix.hdop:.2f}"
    if battery_pct is not None:
        params["batt"] = f"{battery_pct:.0f}"
    return urlencode(params)


class _Worker(threading.Thread):
    def __init__(self, host: str, port: int, path: str, feed: _Feed) -> None:
        super().__init__(name="osmand-feed", daemon=True)
        self.jobs: queue.Queue[Fix | None] = queue.Queue()
        self._host, self._port, self._path = host, port, path
        self._feed = feed
        self._conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        try:
            while (fix := self.jobs.get()) is not None:
                ok = self._send(fix)
                self._feed.count(ok)
        finally:
            if self._conn is not None:
                self._conn.close()

    def _send(self, fix: Fix) -> bool:
        battery = self._feed.battery_of(fix) if self._feed.battery_of is not None else None
        target = f"{self._path}?{osmand_query(fix, battery)}"
        for attempt in range(RETRIES + 1):
            if self._feed.stop_event.is_set():
                return False
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(
                        self._host, self._port, timeout=TIMEOUT_S
                    )
                self._conn.request("POST", target, body=b"", headers={"Content-Length": "0"})
                response = self._conn.getresponse()
                response.read()
                if response.status == 200:
                    return True
                if 400 <= response.status < 500:
                    return False  # refused: sending it again will not help
            except (OSError, http.client.HTTPException):
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
            time.sleep(0.2 * (attempt + 1))
        return False


class _Feed:
    def __init__(
        self,
        total: int,
        stop_event: threading.Event,
        battery_of: Callable[[Fix], float | None] | None = None,
    ) -> None:
        self.battery_of = battery_of
        self.lock = threading.Lock()
        self.progress = FeedProgress(total=total)
        self.stop_event = stop_event

    def count(self, ok: bool) -> None:
        with self.lock:
            if ok:
                self.progress.sent += 1
            else:
                self.progress.failed += 1


def feed_osmand(
    fixes: Sequence[Fix],
    base_url: str,
    *,
    speedup: float,
    start_wall: float,
    stop_event: threading.Event,
    on_progress: Callable[[FeedProgress], None] | None = None,
    sim_start: datetime | None = None,
    progress_every_s: float = 5.0,
    workers: int = WORKERS,
    battery_of: Callable[[Fix], float | None] | None = None,
) -> FeedProgress:
    """Send `fixes` (in arrival order) to the OsmAnd listener at `base_url`; returns the totals.

    `start_wall` (a `time.time()` value) is when `sim_start` (default: the first fix's
    arrival) happens; the simulated clock then runs `speedup` times faster than the wall.
    Stops early, leaving the rest unsent, when `stop_event` is set. `battery_of` gives the
    battery percent to send with a fix (`batt`), if any.
    """
    if speedup <= 0:
        raise ValueError("speedup must be positive")
    parts = urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    path = parts.path or "/"
    feed = _Feed(len(fixes), stop_event, battery_of)
    pool = [_Worker(host, port, path, feed) for _ in range(max(1, workers))]
    for worker in pool:
        worker.start()
    origin = sim_start
    if origin is None and fixes:
        origin = fixes[0].received_at or fixes[0].fix_time
    next_report = time.time() + progress_every_s

    def report() -> None:
        if on_progress is not None:
            with feed.lock:
                snapshot = FeedProgress(**{k: getattr(feed.progress, k) for k in _FIELDS})
            on_progress(snapshot)

    try:
        for fix in fixes:
            arrival = fix.received_at or fix.fix_time
            due = start_wall + (arrival - (origin or arrival)).total_seconds() / speedup
            while True:
                now = time.time()
                if now >= next_report:
                    report()
                    next_report = now + progress_every_s
                if due <= now or stop_event.is_set():
                    break
                stop_event.wait(min(due - now, next_report - now, 0.5))
            if stop_event.is_set():
                break
            with feed.lock:
                feed.progress.sim_now = arrival
            index = zlib.crc32(fix.device_id.encode()) % len(pool)
            pool[index].jobs.put(fix)
    finally:
        for worker in pool:
            worker.jobs.put(None)
        for worker in pool:
            worker.join(TIMEOUT_S * (RETRIES + 1))
        with feed.lock:
            feed.progress.done = not stop_event.is_set()
    report()
    return feed.progress


_FIELDS = ("total", "sent", "failed", "sim_now", "done")
