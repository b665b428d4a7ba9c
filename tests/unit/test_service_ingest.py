"""Ingest: a known device's records reach the log durably; an unknown device is refused
and remembered for the admin."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagwatch.domain.people import Device
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.log import SqliteInbox, decode_record
from tagwatch.protocols.osmand import decode_query
from tagwatch.service.clock import FixedClock
from tagwatch.service.ingest import Ingest, UnknownDevice, UnknownDevices
from tagwatch.store import SecretHasher, SqliteStore

T = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "tagwatch.db", hasher=SecretHasher.cheapest()) as opened:
        opened.devices.save_device(Device("tag-1"))
        yield opened


@pytest.fixture
def inbox(store: SqliteStore) -> Iterator[SqliteInbox]:
    with SqliteInbox.in_store_file(store) as opened:
        yield opened


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T)


@pytest.fixture
def ingest(store: SqliteStore, inbox: SqliteInbox, clock: FixedClock) -> Ingest:
    return Ingest(store, inbox, clock, unknown=UnknownDevices(limit=3))


def fix(seconds: float, device: str = "tag-1") -> Fix:
    return Fix(device, T - timedelta(seconds=seconds), 51.75, -0.33, 10.0)


def test_a_known_devices_batch_is_in_the_log_when_accept_returns(
    ingest: Ingest, inbox: SqliteInbox
) -> None:
    battery = DeviceEvent("tag-1", T, DeviceEventKind.BATTERY_LEVEL, 80.0)
    assert ingest.accept_batch("tag-1", [fix(60), fix(30)], [battery]) == 3
    assert inbox.count_pending() == 3
    assert ingest.accept_batch("tag-1", [fix(30)], []) == 0  # a retry


def test_received_at_is_stamped_where_the_decoder_left_it_empty(
    ingest: Ingest, inbox: SqliteInbox, clock: FixedClock
) -> None:
    clock.set(T + timedelta(seconds=7))
    given = T + timedelta(seconds=3)
    ingest.accept_batch(
        "tag-1",
        [fix(60)],
        [DeviceEvent("tag-1", T, DeviceEventKind.HEARTBEAT, received_at=given)],
    )
    decoded = [decode_record(r) for r in inbox.pending(10)]
    assert [r.received_at for r in decoded] == [T + timedelta(seconds=7), given]
    assert all(r.received_at == T + timedelta(seconds=7) for r in inbox.pending(10))


def test_an_osmand_report_is_accepted_with_its_events(ingest: Ingest, inbox: SqliteInbox) -> None:
    report = decode_query("id=tag-1&lat=51.75&lon=-0.33&timestamp=1793620800&batt=55", T)
    ingest.accept_osmand(report)
    kinds = sorted(r.kind for r in inbox.pending(10))
    assert kinds == ["event", "fix"]
    heartbeat = decode_query("id=tag-1", T)
    ingest.accept_osmand(heartbeat)
    assert inbox.count_pending() == 3


def test_an_unknown_device_is_refused_and_nothing_is_appended(
    ingest: Ingest, inbox: SqliteInbox, clock: FixedClock
) -> None:
    with pytest.raises(UnknownDevice) as refused:
        ingest.accept_batch("stranger", [fix(5, "stranger")], [])
    assert refused.value.device_id == "stranger"
    clock.set(T + timedelta(minutes=3))
    with pytest.raises(UnknownDevice):
        ingest.accept_osmand(decode_query("id=stranger&lat=51.7&lon=-0.3", T))
    assert inbox.count_pending() == 0

    [seen] = ingest.unknown_devices()
    assert (seen.device_id, seen.count) == ("stranger", 2)
    assert (seen.first_seen, seen.last_seen) == (T, T + timedelta(minutes=3))
    assert ingest.unknown.refusals == 2


def test_the_unknown_devices_table_is_bounded_most_recent_first(
    ingest: Ingest, clock: FixedClock
) -> None:
    for i, device in enumerate(["a", "b", "c", "a", "d"]):
        clock.set(T + timedelta(seconds=i))
        with pytest.raises(UnknownDevice):
            ingest.accept_batch(device, [], [])
    assert [s.device_id for s in ingest.unknown_devices()] == ["d", "a", "c"]  # b dropped
    assert ingest.unknown.refusals == 5
    assert ingest.unknown.forget("a")
    assert len(ingest.unknown) == 2


def test_a_record_of_another_device_is_a_gateway_bug(ingest: Ingest, inbox: SqliteInbox) -> None:
    with pytest.raises(ValueError, match="a record of device 'tag-2'"):
        ingest.accept_batch("tag-1", [fix(1), fix(2, "tag-2")], [])
    assert inbox.count_pending() == 0


def test_a_device_registered_after_a_refusal_is_accepted_at_once(
    ingest: Ingest, store: SqliteStore, inbox: SqliteInbox
) -> None:
    """Refusals are not remembered as answers: only known devices skip the store."""
    with pytest.raises(UnknownDevice):
        ingest.accept_batch("tag-late", [fix(60, "tag-late")], [])
    store.devices.save_device(Device("tag-late"))
    assert ingest.accept_batch("tag-late", [fix(60, "tag-late")], []) == 1
    assert inbox.count_pending() == 1


def test_a_known_device_is_checked_against_the_store_once(
    store: SqliteStore, inbox: SqliteInbox, clock: FixedClock
) -> None:
    reads: list[str] = []
    devices = store.devices
    original = devices.get_device

    def counted(device_id: str) -> Device | None:
        reads.append(device_id)
        return original(device_id)

    devices.get_device = counted  # type: ignore[method-assign]
    ingest = Ingest(store, inbox, clock)
    for n in range(5):
        ingest.accept_batch("tag-1", [fix(60 * n)], [])
        with pytest.raises(UnknownDevice):
            ingest.accept_batch("tag-x", [fix(60 * n, "tag-x")], [])
    assert reads.count("tag-1") == 1
    assert reads.count("tag-x") == 5  # every request of an unknown device asks again
    assert inbox.count_pending() == 5
