"""Publish a batch of records to JetStream in one burst and await every record's PubAck.

nats-py's `JetStreamContext.publish` is one request per message: a coroutine wrapped in a
task, a response future with a timeout of its own, headers built and checked one by one,
and a `PubAck` dataclass parsed from the JSON answer. A gateway's append is a batch (one
upload of up to hundreds of fixes), and that per-message machinery was most of the
gateway's CPU (BENCHMARKS.md, the distributed ingest).

`BurstPublisher` keeps the durability and drops the machinery:

- every record of a batch is an HPUB with the header `Nats-Msg-Id` = the record's
  idempotency key (so the stream's duplicate window drops a retry) and a reply subject of
  its own under one inbox prefix, `<inbox>.<burst>.<index>`; one wildcard subscription
  takes every answer for the life of the connection (the client re-subscribes it after a
  reconnect);
- no `Nats-Expected-Stream` header: every PubAck names the stream that stored the record,
  and an answer from any other stream fails the batch, which is the same promise. The
  header would be stored with every record, and every monitor that reads it back parses
  each header in Python in nats-py (~2.4 us a record, measured: 4.2 against 1.8 us);
- the batch's commands are handed to the client's writer as one buffer (the client's own
  `_send_command`, which `Client.publish` calls for each message; the commands are built
  as `Client.publish` builds them, with the same checks of header values and size);
- answers are matched back to the batch by the reply subject's tokens. The batch is stored
  only when every record has a PubAck from the stream; an error answer, a status such as
  503 (no responders), or an answer missing when the timeout ends fails the whole batch
  (`NotStoredError`), and the gateway does not acknowledge the device, which sends the
  records again.

The monitor's acknowledgements of a step's records go the same way (`write_acks`): the
empty publishes `Msg.ack()` sends one by one, in one write.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header

MSG_ID = Header.MSG_ID.value
STATUS = Header.STATUS.value
MSG_ID_PREFIX = f"{MSG_ID}: ".encode()


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
        self._ack_head = f'{{"stream":"{stream}",'.encode()

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
        commands = _burst_commands(records, f"{self._prefix}.{token}.", client.max_payload)
        self._bursts[token] = burst
        try:
            # One buffer for the client's writer task, which sends it once this coroutine
            # waits for the answers: the batch reaches the socket together.
            await client._send_command(commands)
            await client._flush_pending()
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
        duplicate = _read_pub_ack(message, self._stream, self._ack_head)
        if isinstance(duplicate, str):
            burst.done.set_exception(
                NotStoredError(f"the stream did not store {burst.keys[index]}: {duplicate}")
            )
            return
        if not duplicate:
            burst.stored += 1
        if burst.waiting == 0:
            burst.done.set_result(burst.stored)


def _read_pub_ack(message: Msg, stream: str, ack_head: bytes) -> bool | str:
    """Whether an answer is `stream`'s PubAck of a duplicate, or why it is not its PubAck
    at all (the checks of JetStreamContext.publish: a status such as 503 "no responders",
    or a JSON answer with "error"; and a PubAck of another stream, which is what
    `Nats-Expected-Stream` would have refused).

    The common answer, the PubAck of a newly stored record (`{"stream":"<name>", "seq":N}`,
    spacing varies by server version), is recognised by its bytes: it starts with the
    stream's name (`ack_head`) and says neither "error" nor "duplicate". Anything else is
    read as JSON.
    """
    data = message.data
    if (
        data.startswith(ack_head)
        and b'"error"' not in data
        and b'"duplicate"' not in data
        and not message.headers
    ):
        return False
    headers = message.headers
    if headers and headers.get(STATUS):
        return f"status {headers[STATUS]} {headers.get('Description', '')}".strip()
    try:
        answer = json.loads(data)
    except ValueError:
        return f"unreadable answer {data[:80]!r}"
    if not isinstance(answer, dict):
        return f"unexpected answer {answer!r}"
    if "error" in answer:
        return f"error {answer['error']}"
    if "stream" not in answer or "seq" not in answer:
        return f"not a PubAck: {answer!r}"
    if answer["stream"] != stream:
        return f"stored by stream {answer['stream']!r}, not {stream!r}"
    return bool(answer.get("duplicate", False))


_HEADER_VALUE = str.maketrans({"\r": " ", "\n": " "})  # as Client.publish cleans a value


def _burst_commands(records: Sequence[Outgoing], reply: str, max_payload: int) -> bytes:
    """The HPUB commands of a batch, each as `Client.publish` writes it (protocol 1.0).

    Subjects are the log's own (`tagwatch.<namespace>.in.<partition>`, the namespace checked
    by NatsLogSettings); a key is cleaned of line breaks as `Client.publish` cleans a header
    value. A record over the server's payload limit fails the batch before anything is
    sent (the server would drop the connection)."""
    commands = []
    for index, record in enumerate(records):
        headers = (
            b"NATS/1.0\r\n"
            + MSG_ID_PREFIX
            + record.key.strip().translate(_HEADER_VALUE).encode()
            + b"\r\n\r\n"
        )
        size = len(headers)
        total = size + len(record.data)
        if total > max_payload:
            raise NotStoredError(
                f"{record.key} is {total:,} bytes, over the server's limit of {max_payload:,}"
            )
        commands.append(
            f"HPUB {record.subject} {reply}{index} {size} {total}\r\n".encode()
            + headers
            + record.data
            + b"\r\n"
        )
    return b"".join(commands)


async def write_acks(client: NatsClient, replies: Sequence[str]) -> None:
    """Acknowledge JetStream messages by their reply subjects, as `Msg.ack()` does for
    one (an empty publish to the reply subject), in one write; `client.flush()` after it
    waits until the server has them."""
    if replies:
        await client._send_command(b"".join(f"PUB {reply} 0\r\n\r\n".encode() for reply in replies))
        await client._flush_pending()
