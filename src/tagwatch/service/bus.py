"""The live feed: an in-process publish/subscribe bus from the monitor to SSE clients.

    bus.publish({"type": "alert", "alert": {...}})        # any thread, never blocks
    async with bus.subscribe() as feed:                   # in the event loop
        async for message in feed: ...

Messages are JSON-ready dicts (instants as ISO 8601 strings, enums as their values):

- `{"type": "alert", "alert": {...}}` when an alert is raised, updated or acted on
  (`alert_message`);
- `{"type": "position", "device_id", "subject_id", "fix": {...}}`: a device's newest
  fix after a monitor step (`position_message`);
- `{"type": "attendance", ...}`: an appointment's outcome once it is over;
- `{"type": "gap", "dropped": n}`: this subscriber was too slow and lost the n oldest
  messages; a client should reload what it shows (the alert list, positions).

Across processes (a monitor process and the API processes of a scale-out deployment) the
feed travels over NATS: the monitor's bus `forward`s what it publishes, and the API's
bus `deliver_local`s what arrives (tagwatch.log.nats.NatsFeed), still best effort.

Each subscriber has a bounded queue; publishing never waits for a slow subscriber, it
drops that subscriber's oldest message and counts it. Delivery is best effort and
in-process: the store is the record, the feed only says "look again".
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import Enum
from types import TracebackType
from typing import Any, TypeAlias

from tagwatch.domain.episodes import AttendanceOutcome
from tagwatch.domain.positions import Fix
from tagwatch.log.codec import encode_fix
from tagwatch.store.records import Alert

Message: TypeAlias = dict[str, Any]
DEFAULT_QUEUE_SIZE = 1000


class Bus:
    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError("a subscriber queue holds at least one message")
        self._queue_size = queue_size
        # Also hand every published batch to other processes (never blocks; set once).
        self.forward: Callable[[list[Message]], None] | None = None
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()
        self.published = 0

    def publish(self, message: Message) -> None:
        self.publish_many((message,))

    def publish_many(self, messages: Iterable[Message]) -> None:
        """Deliver to every subscriber (thread-safe; one wake-up per subscriber)."""
        batch = list(messages)
        if batch and self.forward is not None:
            self.forward(batch)
        self.deliver_local(batch)

    def deliver_local(self, batch: list[Message]) -> None:
        """Deliver to this process's subscribers only (what another process published)."""
        if not batch:
            return
        with self._lock:
            self.published += len(batch)
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber.offer(batch)

    def subscribe(self, *, queue_size: int | None = None) -> Subscription:
        """A new subscription, bound to the running event loop (call it from a coroutine)."""
        subscription = Subscription(
            self, asyncio.get_running_loop(), queue_size or self._queue_size
        )
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)


class Subscription:
    """One subscriber's queue: an async iterator of messages, and an async context manager."""

    def __init__(self, bus: Bus, loop: asyncio.AbstractEventLoop, queue_size: int) -> None:
        self._bus = bus
        self._loop = loop
        self._queue: deque[Message] = deque()
        self._size = queue_size
        self._lock = threading.Lock()
        self._ready = asyncio.Event()
        self._dropped = 0  # since the last gap marker was handed out
        self.dropped_total = 0
        self.closed = False

    def offer(self, messages: list[Message]) -> None:
        """Called by the publisher's thread: queue, dropping the oldest beyond the bound."""
        with self._lock:
            if self.closed:
                return
            self._queue.extend(messages)
            overflow = len(self._queue) - self._size
            for _ in range(max(overflow, 0)):
                self._queue.popleft()
            if overflow > 0:
                self._dropped += overflow
                self.dropped_total += overflow
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:  # the subscriber's loop is closed: it is gone
            self.close()

    async def get(self) -> Message:
        """The next message, a gap marker first if messages were dropped before it."""
        while True:
            with self._lock:
                if self._dropped:
                    dropped, self._dropped = self._dropped, 0
                    return {"type": "gap", "dropped": dropped}
                if self._queue:
                    return self._queue.popleft()
                if self.closed:
                    raise StopAsyncIteration
                self._ready.clear()
            await self._ready.wait()

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def close(self) -> None:
        with self._lock:
            self.closed = True
        self._bus._remove(self)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self._loop.call_soon_threadsafe(self._ready.set)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        return await self.get()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# -- messages ----------------------------------------------------------------------------


def alert_message(alert: Alert) -> Message:
    return {"type": "alert", "alert": alert_json(alert)}


def position_message(fix: Fix, subject_id: str | None) -> Message:
    return {
        "type": "position",
        "device_id": fix.device_id,
        "subject_id": subject_id,
        "fix": encode_fix(fix),
    }


def attendance_message(outcome: AttendanceOutcome) -> Message:
    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "type": "attendance",
        "appointment_id": outcome.appointment_id,
        "device_id": outcome.device_id,
        "subject_id": outcome.subject_id,
        "outcome": outcome.outcome.value,
        "arrived_at": iso(outcome.arrived_at),
        "left_at": iso(outcome.left_at),
        "detected_at": outcome.detected_at.isoformat(),
    }


def alert_json(alert: Alert) -> dict[str, Any]:
    return {name: _json_value(getattr(alert, name)) for name in Alert.__dataclass_fields__}


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
