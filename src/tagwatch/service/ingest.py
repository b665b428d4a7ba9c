"""Ingest: the gateway's side of the log. Accept a device's records, durably, or refuse them.

    ingest.accept_osmand(report)          # after the API has authenticated the device
    ingest.accept_batch(device_id, fixes, events)

A call returns only after the log has the records on disk, so the caller may acknowledge
the device when it returns (and must not when it raises). Named steps, each of which can
refuse: `check_device` (a device the store does not know is refused with `UnknownDevice`
and remembered for the admin), `check_records` (every record is the device's own), then
`stamp` (received_at set where the decoder left it empty) and `append`.

Unknown devices are kept in a bounded in-memory table (most recently seen kept): a tag that
was fitted but never registered shows up there with first/last seen and a count, before
its buffered data is lost. Authentication is the API's job: it calls this after it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tagwatch.domain.positions import DeviceEvent, Fix
from tagwatch.log.codec import stamped_event_records, stamped_fix_records
from tagwatch.log.contract import Log, NewRecord
from tagwatch.protocols.osmand import OsmAndReport
from tagwatch.service.clock import Clock
from tagwatch.store.contract import UnitOfWork

MAX_UNKNOWN_KEPT = 1000
# Known devices remembered per process: more than a national roll-out's tags. Beyond it,
# devices are still checked, by a store read per request, as every one was before.
MAX_KNOWN_KEPT = 1_000_000
MAX_DEVICE_ID_SHOWN = 128


DeviceBatch = tuple[str, Sequence[Fix], Sequence[DeviceEvent]]  # device id, its records
RecordBatch = tuple[str, Sequence[NewRecord]]  # device id, its log records


class UnknownDevice(LookupError):  # noqa: N818 - the name the API promises
    """The device is not registered: its records are refused (and it is remembered)."""

    def __init__(self, device_id: str) -> None:
        super().__init__(f"unknown device {device_id!r}")
        self.device_id = device_id


@dataclass(frozen=True, slots=True)
class UnknownDeviceSeen:
    device_id: str
    first_seen: datetime
    last_seen: datetime
    count: int  # refused requests


class UnknownDevices:
    """Thread-safe, bounded: the devices refused as unknown, the least recently seen dropped."""

    def __init__(self, *, limit: int = MAX_UNKNOWN_KEPT) -> None:
        if limit < 1:
            raise ValueError("keep at least one unknown device")
        self._limit = limit
        self._seen: OrderedDict[str, UnknownDeviceSeen] = OrderedDict()
        self._lock = threading.Lock()
        self._refusals = 0

    def record(self, device_id: str, at: datetime) -> None:
        device_id = device_id[:MAX_DEVICE_ID_SHOWN]
        with self._lock:
            self._refusals += 1
            before = self._seen.pop(device_id, None)
            self._seen[device_id] = UnknownDeviceSeen(
                device_id,
                first_seen=at if before is None else before.first_seen,
                last_seen=at,
                count=1 if before is None else before.count + 1,
            )
            while len(self._seen) > self._limit:
                self._seen.popitem(last=False)

    def list(self) -> list[UnknownDeviceSeen]:
        """Most recently seen first."""
        with self._lock:
            return list(reversed(self._seen.values()))

    def forget(self, device_id: str) -> bool:
        """Drop a device from the table (e.g. once it has been registered)."""
        with self._lock:
            return self._seen.pop(device_id, None) is not None

    @property
    def refusals(self) -> int:
        """Refused requests since start-up (a counter for metrics), including forgotten ids."""
        with self._lock:
            return self._refusals

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)


class Ingest:
    def __init__(
        self,
        store: UnitOfWork,
        log: Log,
        clock: Clock,
        *,
        unknown: UnknownDevices | None = None,
    ) -> None:
        self._store = store
        self._log = log
        self._clock = clock
        self.unknown = unknown if unknown is not None else UnknownDevices()
        # Devices the store knew when asked. The store never forgets one (its contract has
        # no way to delete a device), so a device known once is known for good, and its
        # next requests skip the store read (one a request, on the busiest path). Who may
        # send for a device is the authentication's question, asked on every request
        # before this. Unknown devices are not remembered here: one registered a moment
        # later is accepted at once.
        self._known: set[str] = set()
        # Called after records were appended (the in-process monitor's wake-up).
        self.on_appended: Callable[[], None] | None = None

    def accept_osmand(self, report: OsmAndReport) -> None:
        """One decoded OsmAnd request: its fix (if any) and its events."""
        fixes = () if report.fix is None else (report.fix,)
        self.accept_batch(report.device_id, fixes, report.events)

    def accept_batch(
        self, device_id: str, fixes: Sequence[Fix], events: Sequence[DeviceEvent]
    ) -> int:
        """Durably append one device's records; returns how many were new to the log.

        UnknownDevice if the store does not know the device (nothing is appended);
        ValueError if a record belongs to another device.
        """
        now = self._clock.now()
        self.check_device(device_id, now)
        check_records(device_id, fixes, events)
        return self._appended(self._log.append(stamp(fixes, events, now)))

    def accept_admitted(self, batches: Sequence[DeviceBatch]) -> int:
        """Durably append several devices' records in one log append (a gateway's group commit).

        For gateways that admit a device once per connection with `check_device` (the
        Teltonika login), so one refused device cannot fail the others' records here.
        Returns how many records were new to the log; ValueError as `accept_batch`.
        """
        now = self._clock.now()
        records: list[NewRecord] = []
        for device_id, fixes, events in batches:
            check_records(device_id, fixes, events)
            records += stamp(fixes, events, now)
        return self._appended(self._log.append(records)) if records else 0

    def accept_admitted_records(self, batches: Sequence[RecordBatch]) -> int:
        """`accept_admitted` for gateways that make the log records themselves
        (`tagwatch.log.codec.fix_records_of`), stamped with when they arrived.

        Returns how many records were new to the log; ValueError if a record belongs to
        another device than its batch's.
        """
        records: list[NewRecord] = []
        for device_id, batch in batches:
            for record in batch:
                if record.device_id != device_id:
                    raise ValueError(
                        f"a record of device {record.device_id!r} in a batch of {device_id!r}"
                    )
            records += batch
        return self._appended(self._log.append(records)) if records else 0

    def _appended(self, added: int) -> int:
        if added and self.on_appended is not None:
            self.on_appended()
        return added

    def check_device(self, device_id: str, now: datetime) -> None:
        if device_id in self._known:
            return
        if self._store.devices.get_device(device_id) is None:
            self.unknown.record(device_id, now)
            raise UnknownDevice(device_id)
        if len(self._known) < MAX_KNOWN_KEPT:
            self._known.add(device_id)  # a set's add is atomic: no lock for concurrent requests

    def unknown_devices(self) -> list[UnknownDeviceSeen]:
        """The devices refused as unknown, most recently seen first (for the admin API)."""
        return self.unknown.list()


def check_records(device_id: str, fixes: Sequence[Fix], events: Sequence[DeviceEvent]) -> None:
    """A device speaks only for itself: a record of another device is a gateway bug."""
    for other in {record.device_id for record in fixes} | {e.device_id for e in events}:
        if other != device_id:
            raise ValueError(f"a record of device {other!r} in a batch of {device_id!r}")


def stamp(
    fixes: Sequence[Fix], events: Sequence[DeviceEvent], received_at: datetime
) -> list[NewRecord]:
    """Log records, with `received_at` set where the decoder did not (no-comms needs it)."""
    records = stamped_fix_records(fixes, received_at)
    if events:
        records += stamped_event_records(events, received_at)
    return records
