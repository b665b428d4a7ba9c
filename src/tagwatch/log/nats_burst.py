"""Publish a batch of records to JetStream in one burst and await every record's PubAck.

nats-py's `JetStreamContext.publish` is one request per message: a coroutine wrapped in a
task, a response future with a timeout of its own, a header dict, and a `PubAck`
dataclass built from the answer. A gateway's append is a batch (one upload of up to
hundreds of fixes), and that per-message machinery was most of the gateway's CPU.

`BurstPublisher` keeps the durability and drops the machinery: every record of a batch is
published on the plain connection with a reply subject of its own under one inbox prefix
(`<inbox>.<burst>.<index>`, one wildcard subscription for the life of the connection),
all in one burst (the client writes them to the socket together), and the answers are
matched back to the batch by the reply subject's tokens. The batch is stored only when
every record has a PubAck from the stream; an error answer, a "no responders" status or
a missing answer within the timeout fails the whole batch (`NotStoredError`), so the
gateway does not acknowledge the device, which sends the records again. Each record still
carries `Nats-Msg-Id` (its idempotency key: the stream's duplicate window drops a retry)
and `Nats-Expected-Stream`, the headers `JetStreamContext.publish` would set.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header

MSG_ID = Header.MSG_ID.value
EXPECTED_STREAM = Header.EXPECTED_STREAM.value
STATUS = Header.STATUS.value


class NotStoredError(Exception):
    """At least one record of a batch has no PubAck from the stream: nothing is promised."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to publish: its subject, its bytes and its idempotency key."""

    subject: str
    data: bytes
    key: str


@dataclass(slots=True)
class _Burst:
    """The records of one batch still waiting for their PubAck."""

    keys: Sequence[str]
    done: asyncio.Future[int]
    answered: bytearray  # 1 per record whose PubAck (or error) has arrived
    waiting: int
    stored: int = 0  # PubAcks that are not duplicates


class BurstPublisher:
    """Publishes batches on `client` to the stream `stream`; runs on the client's loop.

    A batch fails when a record's PubAck has not arrived `ack_within_s` after publishing.
    """

    def __init__(self, client: NatsClient, stream: str, ack_within_s: float) -> None:
        self._client = client
        self._stream = stream
        self._ack_within_s = ack_within_s
        self._prefix = client.new_inbox()
        self._skip = len(self._prefix) + 1  # "<prefix>." before the burst's token
        self._bursts: dict[str, _Burst] = {}
        self._numbers = itertools.count()
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        """Subscribe to the answers once: the client re-subscribes after a reconnect."""
        if self._subscription is None:
            self._subscription = await self._client.subscribe(
                f"{self._prefix}.>", cb=self._on_answer
            )

    async def stop(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.unsubscribe()
        for burst in self._bursts.values():
            if not burst.done.done():
                burst.done.set_exception(NotStoredError("the publisher stopped"))
        self._bursts.clear()

    @property
    def in_flight(self) -> int:
        """Batches published and not yet answered (0 between appends)."""
        return len(self._bursts)

    async def publish(self, records: Sequence[Outgoing]) -> int:
        """Publish `records` and return how many the stream stored (duplicates not counted)
        once every record has its PubAck; raise `NotStoredError` otherwise."""
        if not records:
            return 0
        client = self._client
        if self._subscription is None or not client.is_connected:
            # Nothing would be answered before a reconnect: fail now, do not hold the device.
            raise NotStoredError("not connected to NATS")
        token = str(next(self._numbers))
        burst = _Burst(
            keys=[record.key for record in records],
            done=asyncio.get_running_loop().create_future(),
            answered=bytearray(len(records)),
            waiting=len(records),
        )
        self._bursts[token] = burst
        reply = f"{self._prefix}.{token}."
        stream = self._stream
        try:
            # The first publish wakes the client's flusher, which runs only once this
            # coroutine waits below: the whole batch reaches the socket in one write.
            for index, record in enumerate(records):
                await client.publish(
                    record.subject,
                    record.data,
                    reply=f"{reply}{index}",
                    headers={MSG_ID: record.key, EXPECTED_STREAM: stream},
                )
            try:
                return await asyncio.wait_for(burst.done, self._ack_within_s)
            except TimeoutError:
                raise NotStoredError(
                    f"{burst.waiting} of {len(records)} records had no PubAck within"
                    f" {self._ack_within_s:.1f} s"
                ) from None
        finally:
            del self._bursts[token]

    async def _on_answer(self, message: Msg) -> None:
        token, _, index_text = message.subject[self._skip :].partition(".")
        burst = self._bursts.get(token)
        if burst is None or burst.done.done():
            return  # a batch already failed or timed out: its late answers change nothing
        try:
            index = int(index_text)
            if burst.answered[index]:
                return
        except (ValueError, IndexError):
            return  # not an answer this publisher asked for
        burst.answered[index] = 1
        burst.waiting -= 1
        answer = _pub_ack(message)
        if isinstance(answer, str):
            burst.done.set_exception(
                NotStoredError(f"the stream did not store {burst.keys[index]}: {answer}")
            )
            return
        if not answer.get("duplicate", False):
            burst.stored += 1
        if burst.waiting == 0:
            burst.done.set_result(burst.stored)


def _pub_ack(message: Msg) -> dict[str, Any] | str:
    """The PubAck an answer carries, or why it is not one (as JetStreamContext.publish)."""
    headers = message.headers
    if headers and headers.get(STATUS):  # e.g. 503: no stream takes the subject
        return f"status {headers[STATUS]} {headers.get('Description', '')}".strip()
    try:
        answer = json.loads(message.data)
    except ValueError:
        return f"unreadable answer {message.data[:80]!r}"
    if not isinstance(answer, dict):
        return f"unexpected answer {answer!r}"
    if "error" in answer:
        return f"error {answer['error']}"
    if "stream" not in answer or "seq" not in answer:
        return f"not a PubAck: {answer!r}"
    return answer
