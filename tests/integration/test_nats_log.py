"""The NATS JetStream log against a real server: durability, dedupe, partitions, leases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from natskit import drop_namespace, new_namespace, private_nats, require_nats
from tagwatch.log.contract import FIX, NewRecord, partition_of
from tagwatch.log.nats import LogUnavailableError, NatsLog, NatsLogSettings, parse_partitions
from tagwatch.service.bus import Bus, Message

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
Factory = Callable[..., NatsLog]


def record(device: str, n: int) -> NewRecord:
    return NewRecord(f"fix:{device}:{n}", FIX, device, {"n": n}, NOW)


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def make_log() -> Iterator[Factory]:
    url = require_nats()
    namespace = new_namespace()
    opened: list[NatsLog] = []

    def make(**overrides: object) -> NatsLog:
        options: dict[str, object] = {
            "servers": (url,),
            "partitions": 4,
            "namespace": namespace,
            "ack_wait_s": 1.0,
            "lease_s": 1.5,
            "fetch_wait_s": 0.05,
        }
        options.update(overrides)
        log = NatsLog(NatsLogSettings(**options))  # type: ignore[arg-type]
        log.open()
        opened.append(log)
        return log

    yield make
    for log in opened:
        log.close()
    drop_namespace(url, namespace)


def test_append_is_idempotent_by_key_and_pending_keeps_device_order(make_log: Factory) -> None:
    gateway = make_log()
    monitor = make_log(consume=(0, 1, 2, 3))
    batch = [record("tag-a", n) for n in range(5)] + [record("tag-b", n) for n in range(3)]
    assert gateway.append(batch) == 8
    assert gateway.append(batch[:4]) == 0  # a device's retry after a lost acknowledgement
    assert gateway.count_pending() == 8
    pending = monitor.pending(100)
    assert sorted(r.key for r in pending) == sorted(r.key for r in batch)
    for device in ("tag-a", "tag-b"):
        numbers = [r.payload["n"] for r in pending if r.device_id == device]
        assert numbers == sorted(numbers)
    assert all(r.received_at == NOW for r in pending)


def test_a_routed_device_is_published_to_the_partition_of_the_device_it_goes_with(
    make_log: Factory,
) -> None:
    # A beacon whose own partition differs from its tag's (4 partitions).
    beacon = next(f"hmu-{n}" for n in range(100) if partition_of(f"hmu-{n}", 4) != 0)
    tag = next(f"tag-{n}" for n in range(100) if partition_of(f"tag-{n}", 4) == 0)
    gateway = make_log()
    gateway.route = lambda device: tag if device == beacon else device
    tags_monitor = make_log(consume=(0,))
    beacons_monitor = make_log(consume=(partition_of(beacon, 4),))
    wait_for(lambda: tags_monitor.owned_partitions() == {0})
    assert gateway.append([record(beacon, 1), record(tag, 1)]) == 2
    got = tags_monitor.pending(10)
    assert sorted(r.device_id for r in got) == sorted([beacon, tag])
    assert beacons_monitor.pending(10) == []


def test_pending_returns_held_records_again_until_they_are_done(make_log: Factory) -> None:
    monitor = make_log(consume=(0, 1, 2, 3))
    monitor.append([record("tag-a", n) for n in range(3)])
    first = monitor.pending(10)
    assert first
    again = monitor.pending(10)  # a step retried after a failed commit sees the same first
    assert [r.seq for r in again][: len(first)] == [r.seq for r in first]
    wait_for(lambda: len(monitor.pending(10)) == 3)
    first = monitor.pending(10)
    monitor.mark_done([first[0].seq])
    assert [r.seq for r in monitor.pending(10)] == [r.seq for r in first[1:]]
    monitor.mark_done([r.seq for r in first] + [999_999])  # unknown and repeated: ignored
    assert monitor.pending(10) == []
    wait_for(lambda: monitor.count_pending() == 0)


def test_a_monitor_reads_only_its_partitions(make_log: Factory) -> None:
    devices = [f"tag-{i}" for i in range(40)]
    gateway = make_log()
    gateway.append([record(device, 0) for device in devices])
    mine = {0, 2}
    monitor = make_log(consume=tuple(mine))
    seen = {r.device_id for r in monitor.pending(100)}
    expected = {d for d in devices if partition_of(d, 4) in mine}
    assert seen == expected
    scope = monitor.device_scope()
    assert scope.partitions == frozenset(mine)
    assert {d for d in devices if scope.owns(d)} == expected


def test_records_held_by_a_dead_monitor_are_redelivered_to_the_next(make_log: Factory) -> None:
    first = make_log(consume=(0, 1, 2, 3))
    first.append([record("tag-a", n) for n in range(4)])
    taken = first.pending(10)
    assert len(taken) == 4
    first.close()  # died before acknowledging: nothing is lost
    second = make_log(consume=(0, 1, 2, 3))
    got: list[int] = []

    def redelivered() -> bool:
        got[:] = [r.seq for r in second.pending(10)]
        return len(got) == 4

    wait_for(redelivered)  # after ack_wait
    assert sorted(got) == sorted(r.seq for r in taken)


def test_a_standby_takes_over_the_partitions_of_a_monitor_that_stopped(
    make_log: Factory,
) -> None:
    active = make_log(consume=(0, 1))
    standby = make_log(consume=(0, 1, 2))
    assert active.owned_partitions() == {0, 1}
    assert standby.owned_partitions() == {2}
    version = standby.device_scope().version
    active.close()
    wait_for(lambda: standby.owned_partitions() == {0, 1, 2})
    assert standby.device_scope().version > version


def test_appends_fail_while_nats_is_down_and_resume_after(tmp_path: Path) -> None:
    with private_nats(tmp_path / "js") as server:
        settings = NatsLogSettings(servers=(server.url,), partitions=2, publish_timeout_s=1.0)
        log = NatsLog(settings)
        log.open()
        try:
            assert log.append([record("tag-a", 1)]) == 1
            server.stop()
            with pytest.raises(LogUnavailableError):
                log.append([record("tag-a", 2)])  # the gateway must not acknowledge
            server.start()
            wait_for(lambda: _appends(log, record("tag-a", 2)), timeout_s=20)
            assert log.count_pending() == 2  # the first record survived the restart
        finally:
            log.close()


def _appends(log: NatsLog, rec: NewRecord) -> bool:
    try:
        log.append([rec])
    except LogUnavailableError:
        return False
    return True


def test_partitions_and_settings_parse_clearly() -> None:
    assert parse_partitions("0-3,6") == (0, 1, 2, 3, 6)
    with pytest.raises(ValueError, match="0-3,6"):
        parse_partitions("a-b")
    settings = NatsLogSettings.from_url("nats://a:4222,b:4222?partitions=16&replicas=3")
    assert settings.servers == ("nats://a:4222", "nats://b:4222")
    assert (settings.partitions, settings.replicas) == (16, 3)
    with pytest.raises(ValueError, match="unknown NATS log options"):
        NatsLogSettings.from_url("nats://a:4222?partitons=16")
    with pytest.raises(ValueError, match="outside"):
        NatsLogSettings(partitions=4, consume=(4,))
    assert partition_of("tag-1", 8) == partition_of("tag-1", 8)  # stable, not hash()


def test_the_live_feed_crosses_processes_over_nats(make_log: Factory) -> None:
    """A monitor's bus forwards what it publishes; an API process's bus delivers it."""
    monitor_log, api_log = make_log(consume=(0,)), make_log()
    monitor_bus, api_bus = Bus(), Bus()
    monitor_bus.forward = monitor_log.forward_feed
    api_log.relay_feed(api_bus.deliver_local)
    sent = [{"type": "test", "n": n} for n in range(450)]  # more than one NATS message

    async def scenario() -> list[Message]:
        async with api_bus.subscribe(queue_size=1000) as feed:
            await asyncio.sleep(0.2)
            monitor_bus.publish_many(sent)
            return [await asyncio.wait_for(feed.get(), 10) for _ in sent]

    assert asyncio.run(scenario()) == sent
