"""A batch published in one burst is stored only if every record has its PubAck (real NATS).

The gateway acknowledges a device after `NatsLog.append` returns, so one record of a batch
that the stream refuses, or does not answer for, must fail the whole append; duplicates
by `Nats-Msg-Id` are still dropped by the stream and not counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

import nats
import pytest
from nats.aio.client import Client as NatsClient

from natskit import drop_namespace, new_namespace, require_nats
from tagwatch.log.contract import FIX, NewRecord
from tagwatch.log.nats import LogUnavailableError, NatsLog, NatsLogSettings
from tagwatch.log.nats_burst import BurstPublisher, NotStoredError, Outgoing

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
_T = TypeVar("_T")


def record(device: str, n: int, padding: int = 0) -> NewRecord:
    return NewRecord(f"fix:{device}:{n}", FIX, device, {"n": n, "pad": "x" * padding}, NOW)


@pytest.fixture
def settings() -> Iterator[NatsLogSettings]:
    url = require_nats()
    namespace = new_namespace()
    yield NatsLogSettings(servers=(url,), partitions=4, namespace=namespace)
    drop_namespace(url, namespace)


def on_nats(settings: NatsLogSettings, scenario: Callable[[NatsClient], Awaitable[_T]]) -> _T:
    async def run() -> _T:
        client = await nats.connect(settings.servers[0], connect_timeout=3)
        try:
            return await scenario(client)
        finally:
            await client.close()

    return asyncio.run(run())


def limit_message_size(settings: NatsLogSettings, max_bytes: int) -> None:
    async def update(client: NatsClient) -> None:
        js = client.jetstream()
        info = await js.stream_info(settings.stream)
        await js.update_stream(dataclasses.replace(info.config, max_msg_size=max_bytes))

    on_nats(settings, update)


async def refusal_of_second(
    client: NatsClient, settings: NatsLogSettings, second_subject: str
) -> str:
    """Why a batch of a record on our stream's subject and one on `second_subject` failed."""
    publisher = BurstPublisher(client, settings.stream, ack_within_s=30.0)
    await publisher.start()
    records = [
        Outgoing(f"{settings.subject_prefix}.1", b'{"n": 1}', "fix:tag-a:1"),
        Outgoing(second_subject, b'{"n": 2}', "fix:tag-a:2"),
    ]
    try:
        with pytest.raises(NotStoredError) as failed:
            await publisher.publish(records)
        return str(failed.value)
    finally:
        await publisher.stop()


def test_one_record_the_stream_refuses_fails_the_whole_append(
    settings: NatsLogSettings,
) -> None:
    with NatsLog(settings) as log:
        assert log.append([record("tag-a", 0)]) == 1  # the stream exists now
        limit_message_size(settings, 2_000)
        batch = [record("tag-a", n) for n in range(1, 6)] + [record("tag-b", 1, padding=5_000)]
        with pytest.raises(LogUnavailableError, match="fix:tag-b:1"):
            log.append(batch)  # the device is not acknowledged
        assert log.count_pending() == 6  # the others were stored, and are not lost
        limit_message_size(settings, -1)
        # The device sends the whole batch again: only the refused record is new.
        assert log.append(batch) == 1
        assert log.count_pending() == 7


def test_duplicates_in_a_batch_are_dropped_by_message_id_and_not_counted(
    settings: NatsLogSettings,
) -> None:
    with NatsLog(settings) as log:
        first = [record("tag-a", n) for n in range(10)]
        assert log.append(first) == 10
        mixed = first[5:] + [record("tag-a", n) for n in range(10, 13)]
        assert log.append(mixed) == 3
        assert log.count_pending() == 13


def test_a_record_nobody_acknowledges_fails_its_batch_and_leaves_nothing_waiting(
    settings: NatsLogSettings,
) -> None:
    """An answer that never comes (a plain subscriber that does not reply) is a failure."""
    with NatsLog(settings) as log:
        log.append([record("tag-a", 0)])  # makes the stream

    async def scenario(client: NatsClient) -> tuple[str, int]:
        silent = await client.subscribe("tagwatch.silent.in")  # takes it, never answers
        publisher = BurstPublisher(client, settings.stream, ack_within_s=0.5)
        await publisher.start()
        records = [
            Outgoing(f"{settings.subject_prefix}.0", b'{"n": 1}', "fix:tag-a:1"),
            Outgoing("tagwatch.silent.in", b'{"n": 2}', "fix:tag-a:2"),
        ]
        try:
            with pytest.raises(NotStoredError) as failed:
                await publisher.publish(records)
            return str(failed.value), publisher.in_flight
        finally:
            await silent.unsubscribe()
            await publisher.stop()

    message, in_flight = on_nats(settings, scenario)
    assert "1 of 2 records had no PubAck" in message
    assert in_flight == 0


def test_a_subject_no_stream_takes_fails_its_batch_at_once(settings: NatsLogSettings) -> None:
    with NatsLog(settings) as log:
        log.append([record("tag-a", 0)])

    async def scenario(client: NatsClient) -> str:
        return await refusal_of_second(client, settings, "tagwatch.nowhere.in")

    assert "fix:tag-a:2: status 503" in on_nats(settings, scenario)


def test_a_key_with_a_line_break_cannot_forge_headers(settings: NatsLogSettings) -> None:
    """A protocol's own message id is device data: it must stay one header value."""
    with NatsLog(settings) as log:
        forged = NewRecord("id-1\r\nNats-Expected-Stream: OTHER", FIX, "tag-a", {}, NOW)
        assert log.append([forged]) == 1
        assert log.append([forged]) == 0  # the same key, cleaned the same way: a duplicate


def test_a_record_another_stream_stored_fails_its_batch(settings: NatsLogSettings) -> None:
    """Only our stream's PubAck acknowledges a record (what `Nats-Expected-Stream` did)."""
    with NatsLog(settings) as log:
        log.append([record("tag-a", 0)])  # makes the stream
    other_stream = f"{settings.stream}_OTHER"
    other_subject = f"{settings.subject_prefix}_other.0"

    async def scenario(client: NatsClient) -> str:
        js = client.jetstream()
        await js.add_stream(name=other_stream, subjects=[other_subject])
        try:
            return await refusal_of_second(client, settings, other_subject)
        finally:
            await js.delete_stream(other_stream)

    message = on_nats(settings, scenario)
    assert "fix:tag-a:2" in message
    assert f"stored by stream {other_stream!r}" in message
