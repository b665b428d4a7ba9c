"""The scale-out log: a NATS JetStream stream, partitioned by device (DESIGN.md, "The log").

One stream, `TAGWATCH_IN`, holds subjects `tagwatch.in.<partition>`; a device's records
always go to partition `partition_of(device_id, partitions)` (CRC-32 of the id: stable
across processes, machines and Python versions, unlike `hash()`), so one monitor reads one
device's records in the order they were appended. The exception is a device judged with
another's rules: a curfew's home beacon is published to its tag's partition (`route`), so
the monitor that judges the tag's curfew sees the beacon's in-range events.

- **append** publishes every record with `Nats-Msg-Id` = its idempotency key and waits for
  every PubAck: JetStream has then stored it (fsync'd on `replicas` nodes), so the gateway
  may acknowledge the device. The records of one append go out in one burst and their
  PubAcks are matched back by reply subject (log/nats_burst.py); one record refused or
  unanswered fails the whole append. The stream's duplicate window drops a retry of the same
  key (`PubAck.duplicate`), which is why the window matches the embedded inbox's dedupe
  window. If NATS cannot be reached or does not answer in time, `append` raises
  `LogUnavailableError` and the gateway does not acknowledge: the device keeps its data and
  sends it again.
- **pending / mark_done** read through one durable pull consumer per owned partition
  (`monitor-p<N>`, explicit acks; a step's acks go out in one write). A record fetched but
  not yet acknowledged stays in this process's buffer and is returned again by `pending`, so
  a step retried after a store failure sees the same records; after a crash JetStream
  redelivers it once `ack_wait` has passed, to whichever process owns the partition then.
- The stream keeps records until they are acknowledged (work-queue retention): the stream
  is the backlog, `count_pending` is its size, and `prune` has nothing to do.
- **Partition ownership.** A monitor process is offered some partitions (`consume`) and
  owns those whose lease it holds in the KV bucket `tagwatch_monitor_leases` (one key per
  partition, the bucket's TTL is the lease time). It renews its leases every third of the
  lease time and keeps trying to claim the offered partitions it does not own, so a
  process offered partitions another process holds is a hot standby for them: when the
  holder dies its leases expire and the standby takes over. Ownership changes bump
  `device_scope().version`; the monitor then rebuilds its engine state for the devices it
  now owns from the store (service/monitor.py).

The client library is asyncio; this class offers the synchronous `Log` interface the
monitor and the gateways use by running the client on an event loop of its own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from tagwatch.log.codec import PayloadError, dumps, loads
from tagwatch.log.contract import (
    EVENT,
    FIX,
    DeviceScope,
    InboxRecord,
    LogError,
    NewRecord,
    parse_partitions,
    partition_of,
)
from tagwatch.log.nats_burst import BurstPublisher, NotStoredError, Outgoing, write_acks

logger = logging.getLogger(__name__)

STREAM = "TAGWATCH_IN"
SUBJECT_PREFIX = "tagwatch.in"
LEASE_BUCKET = "tagwatch_monitor_leases"
FETCH_ROUNDS = 8
AGAIN_WAIT_S = 0.02  # a fetch round after the first: take what is there, barely wait
FEED_SUBJECT = "tagwatch.feed"
ACK_SUBJECT_TOKENS = 9  # a JetStream ack subject without domain, as nats-py's Msg reads it
FEED_CHUNK = 200  # messages per NATS message: well under the server's 1 MB payload limit
_T = TypeVar("_T")


class LogUnavailableError(LogError):
    """NATS did not durably take the records: do not acknowledge the device."""


@dataclass(frozen=True, slots=True)
class NatsLogSettings:
    """How to reach the stream; `from_url` reads `nats://host:port?partitions=8&...`."""

    servers: tuple[str, ...] = ("nats://127.0.0.1:4222",)
    partitions: int = 8
    consume: tuple[int, ...] = ()  # the partitions this process may monitor; () = none
    replicas: int = 1  # stream replicas: 3 on a 3-node cluster
    duplicate_window_s: float = 600.0  # matches the embedded inbox's dedupe window
    ack_wait_s: float = 30.0  # redelivery after a monitor died holding records
    lease_s: float = 10.0  # a dead monitor's partitions move after at most this long
    publish_timeout_s: float = 5.0
    # A step waits at most this long for records to arrive: the monitor process's only
    # pause (`tagwatch monitor` steps again at once), so it bounds the alert delay.
    fetch_wait_s: float = 0.2
    max_ack_pending: int = 50_000
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    # Several tagwatch systems (or test runs) on one NATS: each its own stream and leases.
    namespace: str = ""

    @property
    def stream(self) -> str:
        return f"{STREAM}_{self.namespace.upper()}" if self.namespace else STREAM

    @property
    def subject_prefix(self) -> str:
        return f"tagwatch.{self.namespace}.in" if self.namespace else SUBJECT_PREFIX

    @property
    def feed_subject(self) -> str:
        return f"tagwatch.{self.namespace}.feed" if self.namespace else FEED_SUBJECT

    @property
    def lease_bucket(self) -> str:
        return f"{LEASE_BUCKET}_{self.namespace}" if self.namespace else LEASE_BUCKET

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError("the log needs at least one partition")
        outside = [p for p in self.consume if not 0 <= p < self.partitions]
        if outside:
            raise ValueError(f"partitions {outside} are outside 0-{self.partitions - 1}")
        if self.namespace and not self.namespace.replace("_", "").isalnum():
            raise ValueError(f"a namespace is letters, digits and _; got {self.namespace!r}")

    @classmethod
    def from_url(cls, url: str, *, consume: Sequence[int] = ()) -> NatsLogSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("nats", "tls"):
            raise ValueError(f"a NATS log URL starts with nats://; got {url!r}")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        servers = tuple(
            urlunsplit((parts.scheme, host, "", "", "")) for host in parts.netloc.split(",")
        )
        known = {"partitions", "replicas", "ack_wait_s", "lease_s", "duplicate_window_s"}
        known |= {"namespace"}
        unknown = sorted(set(query) - known)
        if unknown:
            raise ValueError(f"unknown NATS log options {unknown}; known: {sorted(known)}")
        return cls(
            servers=servers,
            partitions=int(query.get("partitions", 8)),
            consume=tuple(consume),
            replicas=int(query.get("replicas", 1)),
            ack_wait_s=float(query.get("ack_wait_s", 30.0)),
            lease_s=float(query.get("lease_s", 10.0)),
            duplicate_window_s=float(query.get("duplicate_window_s", 600.0)),
            namespace=query.get("namespace", ""),
        )


@dataclass(slots=True)
class _Held:
    """A fetched record not yet acknowledged, with the message to acknowledge."""

    record: InboxRecord
    partition: int
    message: Msg


class NatsLog:
    """The `Log` over NATS JetStream; see the module docstring."""

    def __init__(self, settings: NatsLogSettings) -> None:
        self.settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tagwatch-nats", daemon=True
        )
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._publisher: BurstPublisher | None = None
        self._leases: KeyValue | None = None
        self._subscriptions: dict[int, JetStreamContext.PullSubscription] = {}
        self._lease_revisions: dict[int, int] = {}
        self._held: dict[int, _Held] = {}  # stream seq -> record, in fetch order
        self._scope = DeviceScope(version=0, partitions=frozenset(), count=settings.partitions)
        self._lock = threading.Lock()  # guards _held and _scope against the lease task
        self._lease_task: asyncio.Task[None] | None = None
        self._feed_tasks: set[asyncio.Future[None]] = set()
        self._opened = False
        # The device whose partition a device's records go to: itself, except for devices
        # judged with another's rules (a curfew's home beacon goes with the subject's tag,
        # tagwatch.service.routing); bootstrap sets it for gateways.
        self.route: Callable[[str], str] = _itself

    # -- the Log interface ---------------------------------------------------------------

    @property
    def joins_store_transaction(self) -> bool:
        return False  # acknowledged after the store commit; redelivery is idempotent

    def open(self) -> None:
        if self._opened:
            return
        self._thread.start()
        try:
            self._run(self._open(), timeout=max(10.0, self.settings.publish_timeout_s))
        except BaseException:
            self.close()
            raise
        self._opened = True

    def close(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._run(self._shutdown(), timeout=10.0)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10.0)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()
        self._opened = False

    def __enter__(self) -> NatsLog:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def append(self, records: Sequence[NewRecord]) -> int:
        if not records:
            return 0
        timeout = self.settings.publish_timeout_s
        # Subjects are chosen here, in the caller's thread: `route` may read the store.
        prefix = self.settings.subject_prefix
        subjects = [
            f"{prefix}.{self.partition_of(self.route(record.device_id))}" for record in records
        ]
        try:
            return self._run(self._publish(records, subjects), timeout=timeout + 1.0)
        except LogUnavailableError:
            raise
        except Exception as error:  # connection lost, timeout, JetStream error
            raise LogUnavailableError(f"NATS did not store the records: {error}") from error

    def pending(self, limit: int) -> list[InboxRecord]:
        """Held records first, then newly fetched ones; only of the partitions in scope.

        The monitor compares `device_scope()` before and after this call: records of a
        partition claimed meanwhile are not judged with rules compiled without its devices.
        """
        held = self._held_in_scope()
        if len(held) >= limit:
            return held[:limit]
        if not self._subscriptions:
            # Nothing to fetch from (a standby without leases yet): wait as a fetch would,
            # so a monitor that relies on the fetch's wait does not spin.
            time.sleep(self.settings.fetch_wait_s)
            return held[:limit]
        self._run(self._fetch(limit - len(held)), timeout=self.settings.fetch_wait_s + 10.0)
        return self._held_in_scope()[:limit]

    def _held_in_scope(self) -> list[InboxRecord]:
        with self._lock:
            owned = self._scope.partitions or frozenset()
            return [h.record for h in self._held.values() if h.partition in owned]

    def mark_done(self, seqs: Sequence[int]) -> None:
        with self._lock:
            done = [self._held.pop(seq) for seq in seqs if seq in self._held]
        if done:
            self._run(self._ack(done), timeout=10.0)

    def count_pending(self) -> int:
        info = self._run(self._require_js().stream_info(self.settings.stream), timeout=5.0)
        return int(info.state.messages)

    def prune(self, before: datetime) -> int:
        return 0  # acknowledged records leave the stream; JetStream forgets old keys itself

    def device_scope(self) -> DeviceScope:
        with self._lock:
            return self._scope

    # -- the live feed between processes -------------------------------------------------

    def forward_feed(self, messages: list[dict[str, Any]]) -> None:
        """Send live-feed messages to the API processes (best effort, never blocks).

        Core NATS, not JetStream: the feed only says "look again", the store is the record.
        """
        if not self._thread.is_alive() or self._nc is None:
            return
        chunks = [
            dumps({"messages": messages[i : i + FEED_CHUNK]}).encode("utf-8")
            for i in range(0, len(messages), FEED_CHUNK)
        ]
        self._loop.call_soon_threadsafe(self._publish_feed, chunks)

    def relay_feed(self, deliver: Callable[[list[dict[str, Any]]], None]) -> None:
        """Hand every feed message other processes forward to `deliver` (on the log's thread)."""

        async def subscribe() -> None:
            async def on_message(message: Msg) -> None:
                try:
                    batch = loads(message.data)["messages"]
                except (PayloadError, KeyError, TypeError) as error:
                    logger.warning("a live-feed message was unreadable: %s", error)
                    return
                if isinstance(batch, list):
                    deliver(batch)

            client = self._nc
            if client is not None:
                await client.subscribe(self.settings.feed_subject, cb=on_message)

        self._run(subscribe(), timeout=10.0)

    def _publish_feed(self, chunks: list[bytes]) -> None:
        client = self._nc
        if client is None or not client.is_connected:
            return  # best effort: a reconnecting client would only buffer stale positions
        task = asyncio.ensure_future(self._send_feed(client, chunks))
        self._feed_tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._feed_tasks.discard)

    async def _send_feed(self, client: NatsClient, chunks: list[bytes]) -> None:
        with contextlib.suppress(Exception):  # best effort, see forward_feed
            for chunk in chunks:
                await client.publish(self.settings.feed_subject, chunk)

    # -- partition helpers ---------------------------------------------------------------

    def partition_of(self, device_id: str) -> int:
        return partition_of(device_id, self.settings.partitions)

    def owned_partitions(self) -> frozenset[int]:
        return self.device_scope().partitions or frozenset()

    # -- on the loop ---------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, _T], *, timeout: float) -> _T:
        if not self._thread.is_alive():
            coro.close()
            raise LogUnavailableError("the NATS log is not open")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            if not future.done():
                future.cancel()
                raise LogUnavailableError(f"NATS did not answer within {timeout:.1f} s") from None
            raise  # a timeout inside the coroutine: its own message says which

    async def _open(self) -> None:
        settings = self.settings
        self._nc = await nats.connect(
            servers=list(settings.servers),
            name=f"tagwatch {settings.owner}",
            connect_timeout=5,
            max_reconnect_attempts=-1,  # keep trying; appends fail meanwhile
            reconnect_time_wait=0.5,
            no_echo=True,  # a process serving API and monitor must not get its own feed back
        )
        self._js = self._nc.jetstream(timeout=settings.publish_timeout_s)
        await self._ensure_stream()
        self._publisher = BurstPublisher(self._nc, settings.stream, settings.publish_timeout_s)
        await self._publisher.start()
        if settings.consume:
            self._leases = await self._lease_bucket()
            await self._claim_leases()
            self._lease_task = asyncio.ensure_future(self._keep_leases())

    async def _ensure_stream(self) -> None:
        js = self._require_js()
        stream = self.settings.stream
        config = api.StreamConfig(
            name=stream,
            subjects=[f"{self.settings.subject_prefix}.*"],
            retention=api.RetentionPolicy.WORK_QUEUE,
            storage=api.StorageType.FILE,
            num_replicas=self.settings.replicas,
            duplicate_window=self.settings.duplicate_window_s,
            description=f"tagwatch inbox; partitions={self.settings.partitions}",
        )
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            await js.add_stream(config)
            return
        expected = f"partitions={self.settings.partitions}"
        if info.config.description and expected not in info.config.description:
            raise ValueError(
                f"the stream {stream} was made for another partition count "
                f"({info.config.description!r}); a device's partition would change"
            )

    async def _lease_bucket(self) -> KeyValue:
        js = self._require_js()
        try:
            return await js.key_value(self.settings.lease_bucket)
        except Exception:  # the bucket does not exist yet (the error type varies by server)
            return await js.create_key_value(
                bucket=self.settings.lease_bucket, ttl=self.settings.lease_s, history=1
            )

    async def _claim_leases(self) -> None:
        """Renew the leases held; try to claim the offered partitions nobody holds."""
        kv = self._leases
        if kv is None:
            return
        owner = self.settings.owner.encode()
        lost: list[int] = []
        for partition, revision in list(self._lease_revisions.items()):
            try:
                self._lease_revisions[partition] = await kv.update(
                    _lease_key(partition), owner, last=revision
                )
            except Exception:  # wrong revision or unreachable: not ours any more
                lost.append(partition)
        for partition in lost:
            del self._lease_revisions[partition]
            await self._release_partition(partition)
        for partition in self.settings.consume:
            if partition in self._lease_revisions:
                continue
            try:
                revision = await kv.create(_lease_key(partition), owner)
            except KeyWrongLastSequenceError:
                continue  # another process holds it
            except Exception as error:  # NATS unreachable: try again at the next tick
                logger.warning("cannot claim partition %d yet: %s", partition, error)
                continue
            self._lease_revisions[partition] = revision
            await self._subscribe(partition)
        self._publish_scope()

    async def _keep_leases(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            try:
                await self._claim_leases()
            except Exception:
                logger.exception("renewing partition leases failed")

    async def _subscribe(self, partition: int) -> None:
        js = self._require_js()
        durable = f"monitor-p{partition}"
        config = api.ConsumerConfig(
            durable_name=durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=self.settings.ack_wait_s,
            max_ack_pending=self.settings.max_ack_pending,
            filter_subject=f"{self.settings.subject_prefix}.{partition}",
        )
        self._subscriptions[partition] = await js.pull_subscribe(
            f"{self.settings.subject_prefix}.{partition}",
            durable=durable,
            stream=self.settings.stream,
            config=config,
        )
        logger.info("monitoring partition %d", partition)

    async def _release_partition(self, partition: int) -> None:
        """Stop reading a partition; its unacknowledged records go to the next owner."""
        subscription = self._subscriptions.pop(partition, None)
        with self._lock:
            self._held = {s: h for s, h in self._held.items() if h.partition != partition}
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        logger.warning("partition %d is no longer monitored by this process", partition)

    def _publish_scope(self) -> None:
        owned = frozenset(self._subscriptions)
        with self._lock:
            if owned != self._scope.partitions:
                version = self._scope.version + 1
                self._scope = DeviceScope(version, owned, self.settings.partitions)

    async def _publish(self, records: Sequence[NewRecord], subjects: Sequence[str]) -> int:
        publisher = self._publisher
        if publisher is None:
            raise LogUnavailableError("the NATS log is not open")
        outgoing: list[Outgoing] = []
        received_at: datetime | None = None
        received_text = ""
        for record, subject in zip(records, subjects, strict=True):
            if record.received_at is not received_at:  # an append's records share one
                received_at, received_text = record.received_at, record.received_at.isoformat()
            outgoing.append(Outgoing(subject, _encode(record, received_text), record.key))
        try:
            return await publisher.publish(outgoing)
        except NotStoredError as error:
            raise LogUnavailableError(f"{len(records)} records not stored: {error}") from error

    async def _fetch(self, wanted: int) -> None:
        """Fetch up to `wanted` records from the owned partitions, in a few rounds.

        One fetch may stop short of what is there (the server ends a pull early when a
        status message of an earlier pull arrives), so fetch again while records come.
        """
        with self._lock:
            owned = self._scope.partitions or frozenset()
        # Only partitions already in the published scope: one claimed a moment ago waits
        # until the monitor has rebuilt its rules with that partition's devices.
        subscriptions = [(p, sub) for p, sub in self._subscriptions.items() if p in owned]
        got = 0
        for round_ in range(FETCH_ROUNDS):
            # Only the first round waits for records to arrive; later rounds take what is
            # already there, so a trickle of records does not hold a step for rounds of
            # waiting (the alert delay). Each partition may fill the whole step: a busy
            # partition is not held back by quiet ones. What is fetched beyond `wanted`
            # stays held for the next step.
            wait_s = self.settings.fetch_wait_s if round_ == 0 else AGAIN_WAIT_S
            batches = await asyncio.gather(
                *(self._fetch_one(sub, wanted - got, wait_s) for _, sub in subscriptions)
            )
            with self._lock:
                for (partition, _), messages in zip(subscriptions, batches, strict=True):
                    for message in messages:
                        self._hold(partition, message)
            fetched = sum(len(batch) for batch in batches)
            got += fetched
            if fetched == 0 or got >= wanted:
                return

    async def _fetch_one(
        self, sub: JetStreamContext.PullSubscription, batch: int, wait_s: float
    ) -> list[Msg]:
        try:
            return await sub.fetch(batch, timeout=wait_s)
        except (nats.errors.TimeoutError, TimeoutError):  # nothing arrived in time
            return []

    def _hold(self, partition: int, message: Msg) -> None:
        seq = _stream_seq(message)
        if seq in self._held:
            return  # a redelivery of a record still held
        try:
            record = _decode(seq, message.data)
        except PayloadError as error:
            # Unreadable on the wire: give it to the monitor as a record whose payload
            # does not decode, so it is refused by name and acknowledged, not redelivered
            # for ever.
            logger.error("log record %d on partition %d unreadable: %s", seq, partition, error)
            record = InboxRecord(seq, f"unreadable:{seq}", FIX, "", {}, _epoch())
        self._held[seq] = _Held(record, partition, message)

    async def _ack(self, done: Sequence[_Held]) -> None:
        client = self._nc
        if client is None:
            raise LogUnavailableError("the NATS log is not open")
        await write_acks(client, [held.message.reply for held in done])
        await client.flush(timeout=5)  # the server has them: a round trip after the acks

    async def _close(self) -> None:
        if self._lease_task is not None:
            self._lease_task.cancel()
            with contextlib.suppress(BaseException):
                await self._lease_task
        if self._leases is not None:
            for partition in list(self._lease_revisions):
                with contextlib.suppress(Exception):
                    await self._leases.delete(_lease_key(partition))  # hand over at once
        self._lease_revisions.clear()
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                await self._publisher.stop()
            self._publisher = None
        if self._nc is not None:
            with contextlib.suppress(Exception):
                # Not drain(): records fetched and not acknowledged are redelivered anyway.
                await self._nc.close()
        self._nc = self._js = self._leases = None
        self._subscriptions.clear()

    async def _shutdown(self) -> None:
        """Close the client, then end whatever the client left running on the loop."""
        await self._close()
        current = asyncio.current_task()
        left = [task for task in asyncio.all_tasks() if task is not current]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    def _require_js(self) -> JetStreamContext:
        if self._js is None:
            raise LogUnavailableError("the NATS log is not open")
        return self._js


def _itself(device_id: str) -> str:
    return device_id


def _stream_seq(message: Msg) -> int:
    """A fetched record's stream sequence, read from its ack subject as `Msg.metadata`
    reads it, without building the rest of the metadata (a datetime and two dataclasses)
    for every record: `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer
    seq>.<time>.<pending>`; the longer form (with domain and account) goes to the client."""
    tokens = message.reply.split(".")
    if len(tokens) == ACK_SUBJECT_TOKENS and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[5])
    return message.metadata.sequence.stream


def _lease_key(partition: int) -> str:
    return f"p{partition}"


def _encode(record: NewRecord, received_at: str) -> bytes:
    """The record as JSON, with its `received_at` already as text."""
    return dumps(
        {
            "key": record.key,
            "kind": record.kind,
            "device_id": record.device_id,
            "payload": record.payload,
            "received_at": received_at,
        }
    ).encode("utf-8")


def _decode(seq: int, data: bytes) -> InboxRecord:
    body = loads(data)
    try:
        kind = body["kind"]
        if kind not in (FIX, EVENT):
            raise PayloadError(f"unknown record kind {kind!r}")
        received_at = datetime.fromisoformat(body["received_at"])
        if received_at.tzinfo is None:
            raise PayloadError("received_at has no time zone")
        return InboxRecord(
            seq=seq,
            key=str(body["key"]),
            kind=kind,
            device_id=str(body["device_id"]),
            payload=dict(body["payload"]),
            received_at=received_at,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise PayloadError(f"not a tagwatch log record: {error}") from error


def _epoch() -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC)


__all__ = [
    "LogUnavailableError",
    "NatsLog",
    "NatsLogSettings",
    "parse_partitions",
    "partition_of",
]
