"""The Teltonika gateway in-process on a real SQLite store and inbox: login, acks only
after the log has the records, bad frames, unknown devices, commands, timeouts, metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tagwatch.domain.people import Device
from tagwatch.gateways import CommandTimeout, DeviceNotConnected
from tagwatch.gateways.metrics import GatewayMetrics
from tagwatch.gateways.teltonika import TeltonikaGateway, TeltonikaSettings
from tagwatch.log.codec import decode_record
from tagwatch.protocols.teltonika import (
    RESPONSE,
    CommandMessage,
    Frame,
    FrameSplitter,
    decode_data,
    encode_avl_packet,
    encode_command,
    encode_frame,
    encode_login,
)
from tagwatch.protocols.teltonika_avl import AvlRecord, Codec
from tagwatch.service.bootstrap import Services, bootstrap
from tagwatch.service.clock import FixedClock
from tagwatch.service.config import Config
from tagwatch.store import SecretHasher

IMEI = "356307042441013"
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
T0_MS = 1_793_620_800_000  # 2026-11-02T12:00:00Z
WAIT_S = 5.0


def records(count: int, *, start_s: int = 0) -> list[AvlRecord]:
    return [
        AvlRecord(
            T0_MS + (start_s + i) * 1000,
            lon_e7=-3_360_000,
            lat_e7=517_520_000,
            satellites=8,
            io1={1: 1, 113: 90},
        )
        for i in range(count)
    ]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    made = bootstrap(
        Config(db_path=tmp_path / "tagwatch.db"),
        clock=FixedClock(NOW),
        hasher=SecretHasher.cheapest(),
    )
    made.store.devices.save_device(Device(IMEI, protocol="teltonika"))
    try:
        yield made
    finally:
        made.close()


@asynccontextmanager
async def running(
    services: Services, metrics: GatewayMetrics | None = None, **settings: float
) -> AsyncIterator[TeltonikaGateway]:
    gateway = TeltonikaGateway(
        services.ingest,
        services.clock,
        TeltonikaSettings(port=0, **settings),  # type: ignore[arg-type]
        metrics=metrics,
    )
    task = asyncio.create_task(gateway.serve())
    await asyncio.wait_for(gateway.started.wait(), WAIT_S)
    try:
        yield gateway
    finally:
        gateway.should_exit = True
        await asyncio.wait_for(task, WAIT_S)


class FakeTag:
    """A fake tag: a real TCP connection speaking the protocol."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, gateway: TeltonikaGateway) -> FakeTag:
        assert gateway.port is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        return cls(reader, writer)

    async def login(self, imei: str = IMEI) -> bytes:
        self.writer.write(encode_login(imei))
        return await asyncio.wait_for(self.reader.read(1), WAIT_S)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def ack(self, timeout_s: float = WAIT_S) -> int:
        return int.from_bytes(await asyncio.wait_for(self.reader.readexactly(4), timeout_s), "big")

    async def close(self) -> None:
        self.writer.close()
        with suppress(ConnectionError):
            await self.writer.wait_closed()


def run(test: Callable[[], Awaitable[None]]) -> None:
    """`asyncio.run` in a thread of its own, so an event loop that another test left
    running in this thread (Playwright's sync API keeps one) cannot get in the way."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(test())).result()


def test_a_known_device_logs_in_and_its_records_are_in_the_log_when_acknowledged(
    services: Services,
) -> None:
    async def scenario() -> None:
        async with running(services) as gateway:
            device = await FakeTag.connect(gateway)
            assert await device.login() == b"\x01"
            await device.send(encode_avl_packet(Codec.CODEC_8E, records(3)))
            assert await device.ack() == 3
            pending = services.log.pending(100)  # durable before the ack was sent
            fixes = [r for r in pending if r.kind == "fix"]
            assert len(fixes) == 3
            fix = decode_record(fixes[0])
            assert fix.device_id == IMEI
            assert [r.kind for r in pending].count("event") == 2  # strap and battery, once
            await device.close()

    run(scenario)


def test_an_unknown_device_is_refused_and_listed_for_the_admin(services: Services) -> None:
    async def scenario() -> None:
        async with running(services) as gateway:
            device = await FakeTag.connect(gateway)
            assert await device.login("490154203237518") == b"\x00"
            assert await asyncio.wait_for(device.reader.read(), WAIT_S) == b""  # closed
            await device.close()
        assert [seen.device_id for seen in services.ingest.unknown_devices()] == ["490154203237518"]
        assert services.log.count_pending() == 0

    run(scenario)


def test_a_bad_crc_is_not_acknowledged_and_the_next_frame_is(services: Services) -> None:
    metrics = GatewayMetrics()

    async def scenario() -> None:
        async with running(services, metrics) as gateway:
            device = await FakeTag.connect(gateway)
            assert await device.login() == b"\x01"
            bad = bytearray(encode_avl_packet(Codec.CODEC_8, records(2)))
            bad[-1] ^= 0x55
            await device.send(bytes(bad))
            with pytest.raises(TimeoutError):
                await device.ack(timeout_s=0.3)
            await device.send(encode_avl_packet(Codec.CODEC_8, records(2, start_s=60)))
            assert await device.ack() == 2
            await device.close()
        assert services.log.count_pending() == 2 + 2  # two fixes and the two state events
        text = "\n".join(metrics.exposition_lines())
        assert 'tagwatch_gateway_rejects_total{protocol="teltonika",reason="bad crc"} 1' in text
        assert 'tagwatch_gateway_records_total{protocol="teltonika"} 2' in text
        assert 'tagwatch_gateway_frames_total{protocol="teltonika",codec="8"} 1' in text
        assert 'tagwatch_gateway_ack_latency_seconds_count{protocol="teltonika"} 1' in text

    run(scenario)


def test_a_packet_that_does_not_decode_is_not_acknowledged(services: Services) -> None:
    async def scenario() -> None:
        async with running(services) as gateway:
            device = await FakeTag.connect(gateway)
            await device.login()
            # number of data 1 says 2, number of data 2 says 1: a good CRC over bad counts
            data = bytearray(encode_avl_packet(Codec.CODEC_8, records(2))[8:-4])
            data[-1] = 1
            await device.send(encode_frame(bytes(data)))
            with pytest.raises(TimeoutError):
                await device.ack(timeout_s=0.3)
            await device.close()
        assert services.log.count_pending() == 0

    run(scenario)


def test_many_devices_at_once_are_each_acknowledged_their_own_count(services: Services) -> None:
    imeis = [f"35630704244{i:04d}" for i in range(40)]
    for imei in imeis:
        services.store.devices.save_device(Device(imei, protocol="teltonika"))

    async def one(gateway: TeltonikaGateway, index: int, imei: str) -> int:
        device = await FakeTag.connect(gateway)
        assert await device.login(imei) == b"\x01"
        total = 0
        for packet in range(3):
            count = 1 + (index + packet) % 5
            batch = [
                AvlRecord(T0_MS + (packet * 10 + i) * 1000, satellites=5, lat_e7=1, lon_e7=1)
                for i in range(count)
            ]
            await device.send(encode_avl_packet(Codec.CODEC_8, batch))
            assert await device.ack() == count
            total += count
        await device.close()
        return total

    async def scenario() -> None:
        async with running(services) as gateway:
            sent = await asyncio.gather(*(one(gateway, i, imei) for i, imei in enumerate(imeis)))
        assert services.log.count_pending() == sum(sent)

    run(scenario)


def test_a_log_that_fails_gets_no_ack_and_the_connection_is_closed(services: Services) -> None:
    async def scenario() -> None:
        async with running(services) as gateway:
            device = await FakeTag.connect(gateway)
            assert await device.login() == b"\x01"
            services.log.close()  # the inbox (and the store whose file it shares)
            services.store.close()  # refuse appends from now on
            await device.send(encode_avl_packet(Codec.CODEC_8, records(1)))
            assert await asyncio.wait_for(device.reader.read(), WAIT_S) == b""
            await device.close()

    run(scenario)


def test_a_command_reaches_the_device_and_its_response_is_returned(services: Services) -> None:
    async def fake_device(device: FakeTag) -> str:
        splitter = FrameSplitter()
        while True:
            chunk = await device.reader.read(1024)
            for item in splitter.feed(chunk):
                assert isinstance(item, Frame)
                command = decode_data(item.data)
                assert isinstance(command, CommandMessage)
                await device.send(encode_command(f"done: {command.text}", kind=RESPONSE))
                return command.text

    async def scenario() -> None:
        async with running(services) as gateway:
            with pytest.raises(DeviceNotConnected):
                await gateway.send_command(IMEI, "getinfo", timeout_s=1)
            device = await FakeTag.connect(gateway)
            await device.login()
            heard = asyncio.create_task(fake_device(device))
            answer = await gateway.send_command(IMEI, "setdigout 1", timeout_s=WAIT_S)
            assert answer == "done: setdigout 1"
            assert await heard == "setdigout 1"
            with pytest.raises(CommandTimeout):  # the fake device no longer answers
                await gateway.send_command(IMEI, "getinfo", timeout_s=0.2)
            await device.close()

    run(scenario)


def test_a_silent_connection_is_closed_after_the_idle_timeout(services: Services) -> None:
    async def scenario() -> None:
        async with running(services, idle_timeout_s=0.2) as gateway:
            device = await FakeTag.connect(gateway)
            assert await device.login() == b"\x01"
            assert gateway.connected(IMEI)
            assert await asyncio.wait_for(device.reader.read(), WAIT_S) == b""
            await asyncio.sleep(0.05)
            assert not gateway.connected(IMEI)
            await device.close()

    run(scenario)


def test_stopping_the_gateway_closes_its_connections(services: Services) -> None:
    async def scenario() -> None:
        async with running(services) as gateway:
            device = await FakeTag.connect(gateway)
            await device.login()
        assert await asyncio.wait_for(device.reader.read(), WAIT_S) == b""
        await device.close()

    run(scenario)


def test_settings_come_from_the_environment() -> None:
    settings = TeltonikaSettings.from_env(
        {
            "TAGWATCH_TELTONIKA_PORT": "15027",
            "TAGWATCH_TELTONIKA_STRAP_INPUT": "2",
            "TAGWATCH_TELTONIKA_STRAP_CLOSED": "0",
            "TAGWATCH_TELTONIKA_CASE_INPUT": "0",
        }
    )
    assert settings.port == 15027
    assert (settings.mapping.strap_input, settings.mapping.strap_closed_value) == (2, 0)
    assert settings.mapping.case_input is None
    assert TeltonikaSettings.from_env({}).mapping.strap_input == 1
    with pytest.raises(ValueError, match="TAGWATCH_TELTONIKA_IDLE_S"):
        TeltonikaSettings.from_env({"TAGWATCH_TELTONIKA_IDLE_S": "soon"})


def test_a_command_can_be_sent_from_another_thread(services: Services) -> None:
    async def scenario() -> None:
        async with running(services) as gateway:
            device = await FakeTag.connect(gateway)
            await device.login()

            async def answer() -> None:
                (frame,) = FrameSplitter().feed(await device.reader.read(1024))
                assert isinstance(frame, Frame)
                await device.send(encode_command("ok", kind=RESPONSE))

            answering = asyncio.create_task(answer())
            reply = await asyncio.to_thread(
                gateway.send_command_threadsafe, IMEI, "getver", timeout_s=WAIT_S
            )
            assert reply == "ok"
            await answering
            await device.close()

    run(scenario)
