"""The Teltonika TCP gateway (port 5027): logins, AVL packets, Codec 12 commands.

Per connection, named steps, each of which can refuse:

1. **login** - the IMEI packet (`tagwatch.protocols.teltonika`). The IMEI *is* the device
   id: a tag is enrolled by registering a device whose id is its IMEI (POST
   /api/v1/devices, protocol "teltonika"). A known device is answered 0x01; an unknown one
   0x00 and the connection is closed, and it is listed in GET /api/v1/unknown-devices
   (`Ingest.check_device`) for an admin to enrol; the device keeps its records and retries.
2. **split** - byte chunks into frames; a frame with a bad CRC, length or preamble is
   dropped with a logged reason and not acknowledged (the device sends it again), and the
   frames after it are read as usual.
3. **decode** - AVL records into fix values and device events (`teltonika_mapping`'s
   `read_packet`, with the configured `IoMapping`), and those into log records
   (`log.codec.fix_records_of`: the records `to_domain`'s `Fix` and `DeviceEvent` objects
   would make, without making the objects). A packet that does not decode (unknown codec,
   counts that do not add up) is refused whole and not acknowledged.
4. **append** - the records go to the log through `Ingest.accept_admitted_records`, grouped with
   other connections' records by a `GroupWriter` (one transaction and one fsync for many
   packets), and **only after the append returned** is the device answered with the
   number of records, four bytes big-endian. If the log fails, nothing is acknowledged
   and the connection is closed so the device reconnects and resends.

The acknowledgement counts every record of the packet, including a record refused alone
because its timestamp is impossible (logged and counted as a reject "bad value"): a
device resends a packet whose count does not match, and would resend that garbage forever.

A connection that sends nothing for `idle_timeout_s` (default 600 s, above the devices'
own 300 s open-link timeout) is closed; so is one that does not log in within
`login_timeout_s`.

**Commands (Codec 12).** `TeltonikaGateway.send_command(device_id, text, timeout_s=...)`
sends a text command (e.g. "getinfo", "setdigout 1") to a connected device and returns
its response text. It raises `DeviceNotConnected` when the device has no open connection
(devices connect only while they have data or their link is held open) and
`CommandTimeout` when no response came in time (both `tagwatch.gateways.CommandError`).
Commands to one device are sent one at a time (Codec 12 has no correlation id). From
another thread use `send_command_threadsafe`. Responses are logged at INFO.

Settings (environment, read by `TeltonikaSettings.from_env`; host and port also by
`tagwatch serve --teltonika-host/--teltonika-port`):

| variable | default | meaning |
|---|---|---|
| TAGWATCH_TELTONIKA_HOST / _PORT | `127.0.0.1` / `5027` | where to listen (see below) |
| TAGWATCH_TELTONIKA_IDLE_S | `600` | close a connection silent this long |
| TAGWATCH_TELTONIKA_STRAP_INPUT | `1` | IO id of the strap loop input (DIN1); `0`: none |
| TAGWATCH_TELTONIKA_STRAP_CLOSED | `1` | the input's value while the strap is intact |
| TAGWATCH_TELTONIKA_CASE_INPUT | `0` | IO id of a case switch input; `0`: none |
| TAGWATCH_TELTONIKA_EXTERNAL_POWER_MV | `4500` | external voltage meaning "charging" |

Port 0 means no gateway to `tagwatch serve`; a `TeltonikaGateway` given port 0 listens
on a free port (`.port`), as tests do. `tagwatch serve` runs the gateway in its event loop
and registers it as the wearer notifier's "teltonika" channel (`TeltonikaChannel`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from tagwatch.gateways import CommandTimeout, DeviceNotConnected
from tagwatch.gateways.batching import GroupWriter
from tagwatch.gateways.metrics import GatewayMetrics, ProtocolMetrics
from tagwatch.log.codec import event_records_of, fix_records_of
from tagwatch.protocols.teltonika import (
    LOGIN_ACCEPTED,
    LOGIN_REFUSED,
    PORT,
    RESPONSE,
    CommandMessage,
    Frame,
    Login,
    Rejection,
    TeltonikaSession,
    TextMessage,
    decode_data,
    encode_ack,
    encode_command,
)
from tagwatch.protocols.teltonika_avl import AvlPacket
from tagwatch.protocols.teltonika_errors import Reason, TeltonikaError
from tagwatch.protocols.teltonika_mapping import IoMapping, read_packet
from tagwatch.service.clock import Clock
from tagwatch.service.ingest import Ingest, RecordBatch, UnknownDevice

logger = logging.getLogger(__name__)

PROTOCOL = "teltonika"
READ_SIZE = 64 * 1024
MAX_BUFFERED = 256 * 1024  # bytes held for an unfinished frame before the connection is cut
CODEC_NAMES = {0x08: "8", 0x8E: "8E", 0x10: "16", 0x0C: "12", 0x0D: "13"}


@dataclass(frozen=True, slots=True)
class TeltonikaSettings:
    host: str = "127.0.0.1"
    port: int = PORT
    idle_timeout_s: float = 600.0
    login_timeout_s: float = 60.0
    mapping: IoMapping = field(default_factory=IoMapping)
    backlog: int = 4096  # pending connections: a fleet reconnects at once after an outage

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TeltonikaSettings:
        env = os.environ if env is None else env
        strap = _int(env, "TAGWATCH_TELTONIKA_STRAP_INPUT", 1)
        case = _int(env, "TAGWATCH_TELTONIKA_CASE_INPUT", 0)
        return cls(
            host=env.get("TAGWATCH_TELTONIKA_HOST") or "127.0.0.1",
            port=_int(env, "TAGWATCH_TELTONIKA_PORT", PORT),
            idle_timeout_s=float(_int(env, "TAGWATCH_TELTONIKA_IDLE_S", 600)),
            mapping=IoMapping(
                strap_input=strap or None,
                strap_closed_value=_int(env, "TAGWATCH_TELTONIKA_STRAP_CLOSED", 1),
                case_input=case or None,
                external_power_min_mv=_int(env, "TAGWATCH_TELTONIKA_EXTERNAL_POWER_MV", 4500),
            ),
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None


class _Closing(Exception):  # noqa: N818 - a verdict that ends the connection, not a failure
    pass


@dataclass(eq=False)
class _Watch:
    """When a connection was last heard from (one sweeper instead of a timer per read)."""

    writer: asyncio.StreamWriter
    last_heard: float
    logged_in: bool = False
    reading: bool = False
    timed_out: bool = False


@dataclass(eq=False)
class _Connection:
    device_id: str
    writer: asyncio.StreamWriter
    command_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    reply: asyncio.Future[str] | None = None


def _batch_size(batch: RecordBatch) -> int:
    return len(batch[1])


class TeltonikaGateway:
    """The asyncio TCP listener. `serve()` runs until `should_exit` is set (as uvicorn's)."""

    def __init__(
        self,
        ingest: Ingest,
        clock: Clock,
        settings: TeltonikaSettings | None = None,
        *,
        metrics: GatewayMetrics | None = None,
        on_ingested: Callable[[str, int], None] | None = None,
    ) -> None:
        """`on_ingested(protocol, records)` is told how many records each append added."""
        self.settings = settings if settings is not None else TeltonikaSettings()
        self._ingest = ingest
        self._clock = clock
        self._metrics: ProtocolMetrics = (metrics or GatewayMetrics()).protocol(PROTOCOL)
        self._on_ingested = on_ingested
        self._writer: GroupWriter[RecordBatch] = GroupWriter(
            self._append, size=_batch_size, name="teltonika-log"
        )
        self._connections: dict[str, _Connection] = {}
        self._handlers: set[asyncio.Task[object]] = set()
        self._watches: set[_Watch] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit: asyncio.Event | None = None
        self._should_exit = False
        self.started = asyncio.Event()  # set once listening (tests and benchmarks wait on it)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._should_exit = value
        if value and self._exit is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._exit.set)

    @property
    def port(self) -> int | None:
        """The port listened on (the real one when configured as 0 in tests)."""
        if self._server is None or not self._server.sockets:
            return None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._exit = asyncio.Event()
        self._writer.start()
        self._server = await asyncio.start_server(
            self._accept,
            self.settings.host,
            self.settings.port,
            backlog=self.settings.backlog,
            limit=READ_SIZE,
        )
        self._sweeper = asyncio.create_task(self._sweep(), name="teltonika-idle")
        logger.info("Teltonika gateway on %s:%s", self.settings.host, self.port)
        self.started.set()

    async def serve(self) -> None:
        """Listen until `should_exit`, then close connections and finish queued appends."""
        await self.start()
        try:
            if not self._should_exit and self._exit is not None:
                await self._exit.wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections.values()):
            connection.writer.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await self._writer.stop()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def _append(self, batches: Sequence[RecordBatch]) -> None:
        """In the writer's thread: one durable append for many connections' packets."""
        added = self._ingest.accept_admitted_records(batches)
        if self._on_ingested is not None:
            self._on_ingested(PROTOCOL, added)

    # -- commands ------------------------------------------------------------------------

    def connected(self, device_id: str) -> bool:
        return device_id in self._connections

    async def send_command(self, device_id: str, text: str, *, timeout_s: float) -> str:
        """Send a Codec 12 command and return the device's response text.

        DeviceNotConnected if the device has no open connection (or it closes before the
        response); CommandTimeout if no response comes within `timeout_s`.
        """
        connection = self._connections.get(device_id)
        if connection is None:
            raise DeviceNotConnected(device_id)
        try:
            async with asyncio.timeout(timeout_s), connection.command_lock:
                if connection.writer.is_closing():
                    raise DeviceNotConnected(device_id)
                reply: asyncio.Future[str] = asyncio.get_running_loop().create_future()
                connection.reply = reply
                try:
                    connection.writer.write(encode_command(text))
                    await connection.writer.drain()
                    answer = await reply
                finally:
                    connection.reply = None
        except TimeoutError:
            raise CommandTimeout(device_id, timeout_s) from None
        except ConnectionError:
            raise DeviceNotConnected(device_id) from None
        # Lengths, not texts: a reply such as getgps's carries the wearer's position, and
        # application logs carry no positions (the reply is stored with the command).
        logger.info(
            "device %s answered a command (%d chars) with %d chars",
            device_id,
            len(text),
            len(answer),
        )
        return answer

    def send_command_threadsafe(self, device_id: str, text: str, *, timeout_s: float) -> str:
        """`send_command` from a thread other than the gateway's event loop (blocks)."""
        if self._loop is None or self._loop.is_closed():
            raise DeviceNotConnected(device_id)
        future = asyncio.run_coroutine_threadsafe(
            self.send_command(device_id, text, timeout_s=timeout_s), self._loop
        )
        return future.result(timeout_s + 5.0)

    # -- one connection ------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._metrics.connection_opened()
        connection: list[_Connection] = []
        watch = _Watch(writer, asyncio.get_running_loop().time())
        self._watches.add(watch)
        try:
            await self._converse(reader, writer, connection, watch)
        except (_Closing, ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # a bug or a store failure ends this connection, not the gateway
            logger.exception("Teltonika connection %s failed", _peer(writer))
        finally:
            self._watches.discard(watch)
            if watch.timed_out:
                logger.info("Teltonika connection %s silent too long: closed", _peer(writer))
            self._metrics.connection_closed()
            if task is not None:
                self._handlers.discard(task)
            if connection:
                self._forget(connection[0])
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _converse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        current: list[_Connection],
        watch: _Watch,
    ) -> None:
        session = TeltonikaSession()
        loop = asyncio.get_running_loop()
        while True:
            watch.reading = True
            chunk = await reader.read(READ_SIZE)
            watch.reading = False
            if not chunk:
                return
            watch.last_heard = loop.time()
            arrived = time.perf_counter()
            for item in session.feed(chunk):
                if isinstance(item, Frame):
                    await self._frame(current[0], item, arrived)
                elif isinstance(item, Login):
                    current.append(await self._login(item.imei, writer))
                    watch.logged_in = True
                else:
                    self._reject(item, writer, current[0].device_id if current else None)
            if session.buffered > MAX_BUFFERED:
                self._metrics.rejected(Reason.BAD_LENGTH.value)
                logger.warning(
                    "Teltonika %s: %d bytes without a whole frame: closed",
                    _peer(writer),
                    session.buffered,
                )
                return

    async def _sweep(self) -> None:
        """Close connections silent for longer than the idle (or login) timeout."""
        settings = self.settings
        every = min(5.0, max(0.05, min(settings.idle_timeout_s, settings.login_timeout_s) / 4))
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(every)
            now = loop.time()
            for watch in list(self._watches):
                limit = settings.idle_timeout_s if watch.logged_in else settings.login_timeout_s
                if watch.reading and now - watch.last_heard > limit:
                    watch.timed_out = True
                    watch.writer.close()  # the pending read ends; the handler cleans up

    async def _login(self, imei: str, writer: asyncio.StreamWriter) -> _Connection:
        try:
            await asyncio.to_thread(self._ingest.check_device, imei, self._clock.now())
        except UnknownDevice:
            self._metrics.rejected("unknown device")
            logger.info("Teltonika login refused: unknown device %s (%s)", imei, _peer(writer))
            writer.write(LOGIN_REFUSED)
            await writer.drain()
            raise _Closing from None
        writer.write(LOGIN_ACCEPTED)
        await writer.drain()
        connection = _Connection(imei, writer)
        previous = self._connections.get(imei)
        if previous is not None:  # the device reconnected; its old socket is dead to it
            previous.writer.close()
        self._connections[imei] = connection
        return connection

    def _forget(self, connection: _Connection) -> None:
        if self._connections.get(connection.device_id) is connection:
            del self._connections[connection.device_id]
        if connection.reply is not None and not connection.reply.done():
            connection.reply.set_exception(DeviceNotConnected(connection.device_id))

    def _reject(
        self,
        rejection: Rejection | TeltonikaError,
        writer: asyncio.StreamWriter,
        device: str | None,
    ) -> None:
        self._metrics.rejected(rejection.reason.value)
        logger.warning(
            "Teltonika %s (%s): refused, %s: %s",
            device or "before login",
            _peer(writer),
            rejection.reason.value,
            rejection.detail,
        )
        if rejection.reason is Reason.BAD_LOGIN:
            writer.write(LOGIN_REFUSED)
            raise _Closing

    async def _frame(self, connection: _Connection, frame: Frame, arrived: float) -> None:
        self._metrics.frame(CODEC_NAMES.get(frame.codec, f"0x{frame.codec:02X}"))
        try:
            message = decode_data(frame.data)
        except TeltonikaError as error:
            self._reject(error, connection.writer, connection.device_id)
            return
        if isinstance(message, AvlPacket):
            await self._store(connection, message, arrived)
        elif isinstance(message, CommandMessage):
            if message.kind == RESPONSE and connection.reply is not None:
                if not connection.reply.done():
                    connection.reply.set_result(message.text)
            else:
                logger.info(  # not the text: it may carry a position
                    "device %s sent an unasked Codec 12 text (%d chars)",
                    connection.device_id,
                    len(message.text),
                )
        elif isinstance(message, TextMessage):
            logger.info(
                "device %s sent a Codec 13 message (%d bytes)",
                connection.device_id,
                len(message.payload),
            )

    async def _store(self, connection: _Connection, packet: AvlPacket, arrived: float) -> None:
        device_id = connection.device_id
        readings = read_packet(packet.records, self.settings.mapping)
        for error in readings.refused:
            self._reject(error, connection.writer, device_id)
        # Log records straight from the readings: the records `to_domain`'s fixes and
        # events would become, without those objects (log.codec.fix_records_of).
        received_at = self._clock.now()
        records = fix_records_of(device_id, readings.fixes, received_at)
        if readings.events:
            records += event_records_of(device_id, readings.events, received_at)
        if records:
            try:
                await self._writer.write((device_id, records))
            except Exception:
                logger.exception(
                    "the log did not take %d records of %s: not acknowledged",
                    len(packet.records),
                    device_id,
                )
                raise _Closing from None
        connection.writer.write(encode_ack(len(packet.records)))
        if connection.writer.transport.get_write_buffer_size():
            await connection.writer.drain()  # only a slow reader makes us wait
        self._metrics.acknowledged(len(packet.records), time.perf_counter() - arrived)


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)
