"""`tagwatch bench gateway`: fixes/s and ack latency through the Teltonika TCP gateway.

A `tagwatch serve` child process (its own interpreter, a fresh SQLite database holding
`--connections` registered tags) runs the gateway; this process opens one real TCP
connection per tag, logs each in, and then every tag sends an AVL packet of
`--records-per-packet` Codec 8 records every `--interval-s` seconds (open loop, phases
spread evenly; a tag whose ack is late sends its next packet when the ack arrives, as a
real device does) for `--duration-s` seconds, after a `--warm-up-s` that is not counted.

Two phases on the same connections, each with its own warm-up:

1. **At the target load** (`--interval-s`, default 2.4 s: 5,000 tags x 10 records offer
   20,833 fixes/s, just above issue 6's 20,000): `fixes_per_s` and the ack latencies of
   the summary. The target is a rate *and* a latency at that rate, so both come from
   the same window.
2. **Capacity** (`--capacity-load`, default 1.2: the same tags sending 1.2 times as
   often, 25,000 fixes/s offered): the `capacity` object says how much more the gateway
   takes and what its latency is there. Past saturation an open-loop queue only grows,
   so a latency measured there says "saturated", not how fast an ack is; that is why
   the headline latency is not taken from this phase. `--capacity-load 0` skips it.

- fixes/s: records acknowledged during the measured window / its length. An
  acknowledgement means the records are durable in the log (SQLite, synchronous=FULL).
- ack latency: from just before a packet is written to its 4-byte ack read, per packet.
- The server's CPU seconds in the window (from /proc): `fixes_per_server_cpu_s` is what
  one core does, which on a shared machine says more than wall-clock rates do.
- Baseline in the same run: the raw log's append rate on this disk, the same records
  appended straight to an SQLite inbox in groups (`log_append_grouped_per_s`, what the
  gateway's group commit can at best reach) and one record per append
  (`log_append_single_per_s`, what a gateway without group commit would be bound by).

By default the server runs without the monitor (`TAGWATCH_MONITOR=0`, a gateway process
of the scale-out layout, DESIGN.md); `--with-monitor` runs the monitor in the same process,
which then shares the interpreter with the judging of every fix.

Both processes need a file descriptor per connection: the soft limit is raised to the hard
limit (children inherit it).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from tagwatch.bench.report import emit, progress
from tagwatch.domain.people import Device
from tagwatch.domain.positions import Fix
from tagwatch.log.codec import fix_record
from tagwatch.log.sqlite import SqliteInbox
from tagwatch.protocols.teltonika import encode_frame, encode_login
from tagwatch.protocols.teltonika_avl import AvlRecord, Codec, encode_avl_data
from tagwatch.store import create_store

START_TIMEOUT_S = 60.0
CONNECT_CONCURRENCY = 256  # connections being opened at once (the listen backlog is 4096)
ACK_TIMEOUT_S = 60.0
FD_MARGIN = 512
_TIMESTAMP = struct.Struct(">Q")


@dataclass(frozen=True)  # no slots: the command reads the defaults off the class
class GatewayBenchOptions:
    connections: int = 5000
    records_per_packet: int = 10
    interval_s: float = 2.4
    capacity_load: float = 1.2  # the capacity phase's offered load, times the target's
    duration_s: float = 20.0
    warm_up_s: float = 5.0
    with_monitor: bool = False
    baseline_records: int = 20_000


@dataclass
class Tally:
    """What the tags saw; latencies of packets sent within the measured window."""

    window_start: float
    window_end: float
    records: int = 0
    packets: int = 0
    failures: int = 0
    latencies_s: list[float] = field(default_factory=list)
    server_cpu_s: float | None = None  # the server process's CPU seconds in the window

    def count(self, sent_at: float, acked_at: float, records: int) -> None:
        if self.window_start <= sent_at and acked_at <= self.window_end:
            self.records += records
            self.packets += 1
            self.latencies_s.append(acked_at - sent_at)


def imei(index: int) -> str:
    return f"35{index:013d}"


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(needed, soft)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def register_tags(db: Path, count: int) -> None:
    store = create_store(f"sqlite:///{db}")
    store.open()
    try:
        with store.transaction() as tx:
            for index in range(count):
                tx.devices.save_device(Device(imei(index), protocol="teltonika"))
    finally:
        store.close()


def log_baseline(directory: Path, records: int, group: int) -> tuple[float, float]:
    """Records/s appended straight to an SQLite inbox: grouped, and one per append."""
    now = datetime.now(UTC)
    made = [
        fix_record(
            Fix(imei(i % 5000), datetime.fromtimestamp(1.7e9 + i, UTC), 51.75, -0.33, 8.7),
            received_at=now,
        )
        for i in range(records)
    ]
    with SqliteInbox(directory / "baseline.db") as inbox:
        started = time.perf_counter()
        for first in range(0, records, group):
            inbox.append(made[first : first + group])
        grouped = records / (time.perf_counter() - started)
    singles = min(records, 300)
    with SqliteInbox(directory / "baseline-single.db") as inbox:
        started = time.perf_counter()
        for record in made[:singles]:
            inbox.append([record])
        single = singles / (time.perf_counter() - started)
    return grouped, single


class GatewayServer:
    def __init__(self, db: Path, log_path: Path, *, with_monitor: bool) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "TAGWATCH_DB": str(db),
            "TAGWATCH_MONITOR": "1" if with_monitor else "0",
        }
        for name in ("TAGWATCH_STORE", "TAGWATCH_LOG", "TAGWATCH_MQTT_URL"):
            env.pop(name, None)
        command = [
            sys.executable,
            "-m",
            "tagwatch.cli",
            "serve",
            "--port",
            str(free_port()),
            "--osmand-port",
            str(free_port()),
            "--teltonika-port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        self.log_path = log_path
        with log_path.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log_path.read_text()[-2000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the gateway did not listen within {START_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class Tag:
    """One connection; packets carry consecutive timestamps so no record is a duplicate.

    A packet is the encoder's bytes for one record with only the timestamps and the CRC
    redone per packet: the fleet's CPU is not the gateway's, so the client spends as
    little of this machine's as it can.
    """

    def __init__(self, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.index = index
        self.reader = reader
        self.writer = writer
        # an hour ago, so a monitor (--with-monitor) judges them; 1 s apart per record
        self.next_ms = int(time.time() * 1000) - 3_600_000 + index
        template = AvlRecord(
            0,
            lon_e7=-3_360_000 + index,
            lat_e7=517_520_000,
            satellites=9,
            speed_kmh=3,
            io1={1: 1, 69: 1, 113: 87, 239: 0, 240: 1, 21: 4},
            io2={66: 0, 67: 4012, 182: 9},
        )
        data = encode_avl_data(Codec.CODEC_8, [template])
        self._record_tail = data[2 + 8 : -1]  # the record after its timestamp

    def packet(self, records: int) -> bytes:
        parts = [bytes((Codec.CODEC_8, records))]
        for i in range(records):
            parts += (_TIMESTAMP.pack(self.next_ms + i * 1000), self._record_tail)
        parts.append(bytes((records,)))
        self.next_ms += records * 1000
        return encode_frame(b"".join(parts))

    async def exchange(self, packet: bytes) -> int:
        self.writer.write(packet)
        await self.writer.drain()
        ack = await asyncio.wait_for(self.reader.readexactly(4), ACK_TIMEOUT_S)
        return int.from_bytes(ack, "big")


async def open_tags(port: int, count: int) -> list[Tag]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(index: int) -> Tag:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(encode_login(imei(index)))
            await writer.drain()
            answer = await asyncio.wait_for(reader.readexactly(1), ACK_TIMEOUT_S)
            if answer != b"\x01":
                raise RuntimeError(f"tag {imei(index)} was refused")
            return Tag(index, reader, writer)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


@dataclass(frozen=True)
class Phase:
    interval_s: float
    warm_up_s: float
    duration_s: float


async def drive(tags: list[Tag], phase: Phase, records: int, server_pid: int) -> Tally:
    loop = asyncio.get_running_loop()
    start = loop.time()
    begin = time.perf_counter()
    tally = Tally(
        window_start=begin + phase.warm_up_s,
        window_end=begin + phase.warm_up_s + phase.duration_s,
    )
    stop_at = start + phase.warm_up_s + phase.duration_s
    rng = random.Random(7)

    async def run(tag: Tag) -> None:
        due = start + rng.random() * phase.interval_s
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            if loop.time() >= stop_at:
                return
            packet = tag.packet(records)
            sent = time.perf_counter()
            try:
                acked = await tag.exchange(packet)
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                tally.failures += 1
                return
            if acked != records:
                tally.failures += 1
            tally.count(sent, time.perf_counter(), acked)
            due += phase.interval_s

    async def meter() -> None:
        await asyncio.sleep(phase.warm_up_s)
        before = cpu_seconds(server_pid)
        await asyncio.sleep(phase.duration_s)
        after = cpu_seconds(server_pid)
        if before is not None and after is not None:
            tally.server_cpu_s = after - before

    await asyncio.gather(meter(), *(run(tag) for tag in tags))
    return tally


async def close_tags(tags: list[Tag]) -> None:
    for tag in tags:
        tag.writer.close()
    await asyncio.gather(*(tag.writer.wait_closed() for tag in tags), return_exceptions=True)


async def load(
    port: int, options: GatewayBenchOptions, server_pid: int
) -> tuple[Tally, Tally | None]:
    """The target-load phase, then (unless `capacity_load` is 0) the capacity phase."""
    progress(f"opening {options.connections} connections ...")
    opened = time.perf_counter()
    tags = await open_tags(port, options.connections)
    progress(f"  logged in in {time.perf_counter() - opened:.1f} s; sending ...")
    try:
        target = Phase(options.interval_s, options.warm_up_s, options.duration_s)
        at_target = await drive(tags, target, options.records_per_packet, server_pid)
        if not options.capacity_load:
            return at_target, None
        progress(f"capacity: {options.capacity_load} x the load ...")
        capacity = Phase(
            options.interval_s / options.capacity_load, options.warm_up_s, options.duration_s
        )
        return at_target, await drive(tags, capacity, options.records_per_packet, server_pid)
    finally:
        await close_tags(tags)


def phase_summary(
    tally: Tally, options: GatewayBenchOptions, interval_s: float
) -> dict[str, object]:
    latencies_ms = np.array(tally.latencies_s) * 1000.0 if tally.latencies_s else np.zeros(1)
    cpu = tally.server_cpu_s
    return {
        "fixes_per_s": round(tally.records / options.duration_s, 1),
        "ack_p99_ms": round(float(np.percentile(latencies_ms, 99)), 2),
        "ack_p50_ms": round(float(np.percentile(latencies_ms, 50)), 2),
        "ack_max_ms": round(float(latencies_ms.max()), 2),
        "offered_fixes_per_s": round(
            options.connections * options.records_per_packet / interval_s, 1
        ),
        "packets": tally.packets,
        "failures": tally.failures,
        # What one core of the server did: load-independent on a shared machine.
        "server_cpu_share": None if cpu is None else round(cpu / options.duration_s, 3),
        "fixes_per_server_cpu_s": None if not cpu else round(tally.records / cpu, 1),
    }


def run_gateway_bench(options: GatewayBenchOptions) -> dict[str, object]:
    limit = raise_fd_limit(options.connections * 2 + FD_MARGIN)
    if limit < options.connections + FD_MARGIN:
        raise RuntimeError(f"the file descriptor limit ({limit}) is too low")
    with tempfile.TemporaryDirectory(prefix="tagwatch-bench-gateway-") as temp:
        directory = Path(temp)
        progress("baseline: raw log appends ...")
        grouped, single = log_baseline(directory, options.baseline_records, group=500)
        db = directory / "gateway.db"
        progress(f"registering {options.connections} tags ...")
        register_tags(db, options.connections)
        server = GatewayServer(db, directory / "serve.log", with_monitor=options.with_monitor)
        try:
            server.wait_ready()
            gc.freeze()  # the 5,000 simulated tags should cost this machine little CPU
            gc.set_threshold(50_000, 20, 100)
            at_target, at_capacity = asyncio.run(load(server.port, options, server.process.pid))
        finally:
            server.stop()
    target = phase_summary(at_target, options, options.interval_s)
    capacity = (
        None
        if at_capacity is None
        else phase_summary(at_capacity, options, options.interval_s / options.capacity_load)
    )
    return {
        "connections": options.connections,
        **target,
        "records_per_packet": options.records_per_packet,
        "duration_s": options.duration_s,
        "with_monitor": options.with_monitor,
        "capacity": capacity,
        "log_append_grouped_per_s": round(grouped, 1),
        "log_append_single_per_s": round(single, 1),
    }


def gateway_command(
    connections: Annotated[int, typer.Option(help="Concurrent TCP connections (tags).", min=1)] = (
        GatewayBenchOptions.connections
    ),
    records_per_packet: Annotated[
        int, typer.Option(help="Codec 8 records in each AVL packet.", min=1, max=255)
    ] = GatewayBenchOptions.records_per_packet,
    interval_s: Annotated[
        float, typer.Option(help="Seconds between one tag's packets at the target load.", min=0.01)
    ] = GatewayBenchOptions.interval_s,
    capacity_load: Annotated[
        float,
        typer.Option(
            help="Offered load of the capacity phase, times the first phase's (0: skip it).",
            min=0.0,
        ),
    ] = GatewayBenchOptions.capacity_load,
    duration_s: Annotated[
        float, typer.Option(help="Measured seconds.", min=0.1)
    ] = GatewayBenchOptions.duration_s,
    warm_up_s: Annotated[
        float, typer.Option(help="Seconds of load before measuring.", min=0.0)
    ] = GatewayBenchOptions.warm_up_s,
    with_monitor: Annotated[
        bool, typer.Option(help="Run the monitor in the gateway's process too.")
    ] = GatewayBenchOptions.with_monitor,
    baseline_records: Annotated[
        int, typer.Option(help="Records appended for the raw-log baseline.", min=1)
    ] = GatewayBenchOptions.baseline_records,
) -> None:
    """Fixes/s and ack latency through the Teltonika gateway with many connections."""
    options = GatewayBenchOptions(
        connections=connections,
        records_per_packet=records_per_packet,
        interval_s=interval_s,
        capacity_load=capacity_load,
        duration_s=duration_s,
        warm_up_s=warm_up_s,
        with_monitor=with_monitor,
        baseline_records=baseline_records,
    )
    summary = run_gateway_bench(options)
    emit(
        summary,
        [
            f"{summary['connections']} connections, {summary['packets']} packets acknowledged"
            f" in {summary['duration_s']} s ({summary['failures']} failures)",
            f"fixes/s {summary['fixes_per_s']} (offered {summary['offered_fixes_per_s']});"
            f" ack p50 {summary['ack_p50_ms']} ms, p99 {summary['ack_p99_ms']} ms",
            f"server CPU: {summary['server_cpu_share']} of a core,"
            f" {summary['fixes_per_server_cpu_s']} fixes per CPU second",
            *capacity_lines(summary["capacity"]),
            f"raw log appends: {summary['log_append_grouped_per_s']} records/s grouped,"
            f" {summary['log_append_single_per_s']} one per append",
        ],
    )


def capacity_lines(capacity: object) -> list[str]:
    if not isinstance(capacity, dict):
        return []
    return [
        f"capacity: {capacity['fixes_per_s']} fixes/s acknowledged of"
        f" {capacity['offered_fixes_per_s']} offered; ack p50 {capacity['ack_p50_ms']} ms,"
        f" p99 {capacity['ack_p99_ms']} ms; {capacity['fixes_per_server_cpu_s']} fixes per"
        " server CPU second"
    ]
