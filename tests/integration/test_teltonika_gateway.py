"""A real `tagwatch serve` process and real TCP connections speaking Teltonika: the login
of a known and an unknown tag, Codec 8 and 8E packets split at every byte boundary and
coalesced, the acknowledgements, a bad CRC that is not acknowledged while the next frame
on the same connection is, the fixes read back through the API, and a breach whose Codec 12
warning reaches the tag's socket and whose reply marks it delivered on the alert."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx2 as httpx
import pytest

from processkit import free_port, until
from tagwatch.protocols.teltonika import (
    RESPONSE,
    CommandMessage,
    Frame,
    FrameSplitter,
    decode_data,
    encode_avl_packet,
    encode_command,
    encode_login,
)
from tagwatch.protocols.teltonika_avl import AvlRecord, Codec

T = TypeVar("T")
PASSWORD = "an admin password"  # noqa: S105 - a test user's
IMEI = "356307042441013"
UNKNOWN_IMEI = "490154203237518"
WAIT_S = 20.0
PURPOSE = {"purpose_code": "investigation", "purpose": "Teltonika gateway test"}
LON_E7, LAT_E7 = -3_360_000, 517_520_000
TAGWATCH = (sys.executable, "-m", "tagwatch.cli")

pytestmark = pytest.mark.slow


class Server:
    def __init__(self, process: subprocess.Popen[bytes], api: str, port: int, log: Path) -> None:
        self.process = process
        self.api = api
        self.teltonika_port = port
        self.log = log


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    env = {
        **os.environ,
        "TAGWATCH_DB": str(tmp_path / "tagwatch.db"),
        "TAGWATCH_MONITOR_INTERVAL_S": "0.1",
    }
    for name in ("TAGWATCH_STORE", "TAGWATCH_LOG", "TAGWATCH_MQTT_URL"):
        env.pop(name, None)
    added = subprocess.run(
        [*TAGWATCH, "user", "add", "root", "--role", "admin", "--password", PASSWORD],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    api_port, osmand_port, teltonika_port = free_port(), free_port(), free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *TAGWATCH,
                "serve",
                "--port",
                str(api_port),
                "--osmand-port",
                str(osmand_port),
                "--teltonika-port",
                str(teltonika_port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Server(process, f"http://127.0.0.1:{api_port}", teltonika_port, log)
    try:

        def listening() -> bool | None:
            assert process.poll() is None, log.read_text()
            try:
                healthy = httpx.get(f"{running.api}/api/v1/health", timeout=1).status_code == 200
                with socket.create_connection(("127.0.0.1", teltonika_port), timeout=1):
                    return healthy or None
            except (httpx.HTTPError, OSError):
                return None

        until("the API and the gateway to listen", listening)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api, timeout=10) as client:
        answer = client.post("/api/v1/auth/token", data={"username": "root", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        for path, body in [
            ("/api/v1/subjects", {"id": "s-1", "name": "Sam", "risk_level": "high"}),
            ("/api/v1/devices", {"id": IMEI, "protocol": "teltonika"}),
            (
                "/api/v1/assignments",
                {"device_id": IMEI, "subject_id": "s-1", "start": "2020-01-01T00:00:00Z"},
            ),
        ]:
            made = client.post(path, json=body)
            assert made.status_code == 201, made.text
        yield client


class Tag:
    """A fake Teltonika device on a real socket (no Nagle: a split write stays split)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def login(self, imei: str) -> bytes:
        self.sock.sendall(encode_login(imei))
        return self.sock.recv(1)

    def send_split(self, data: bytes, cut: int) -> None:
        self.sock.sendall(data[:cut])
        time.sleep(0.002)  # let the first part arrive on its own
        self.sock.sendall(data[cut:])

    def ack(self, timeout_s: float = WAIT_S) -> int:
        self.sock.settimeout(timeout_s)
        got = b""
        while len(got) < 4:
            chunk = self.sock.recv(4 - len(got))
            if not chunk:
                raise ConnectionError("the gateway closed the connection")
            got += chunk
        return int.from_bytes(got, "big")

    def no_ack(self, wait_s: float = 0.5) -> bool:
        """True if nothing came back (and the connection stayed open) within `wait_s`."""
        self.sock.settimeout(wait_s)
        try:
            self.sock.recv(4)
        except TimeoutError:
            return True
        return False

    def command(self, timeout_s: float = WAIT_S) -> CommandMessage:
        """The next frame the gateway sends, which must be a Codec 12 command."""
        self.sock.settimeout(timeout_s)
        splitter = FrameSplitter()
        while True:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the gateway closed the connection")
            for found in splitter.feed(chunk):
                assert isinstance(found, Frame), found
                message = decode_data(found.data)
                assert isinstance(message, CommandMessage), message
                return message

    def close(self) -> None:
        self.sock.close()


def _records(base_ms: int, count: int, *, satellites: int = 9) -> list[AvlRecord]:
    return [
        AvlRecord(
            base_ms + i * 1000,
            lon_e7=LON_E7 + i * 100,
            lat_e7=LAT_E7,
            satellites=satellites,
            speed_kmh=4,
            io1={1: 1, 113: 80},
            io2={182: 9},
        )
        for i in range(count)
    ]


def _trail(api: httpx.Client, start: datetime, end: datetime) -> list[dict[str, Any]]:
    answer = api.get(
        "/api/v1/subjects/s-1/trail",
        params={"start": start.isoformat(), "end": end.isoformat(), **PURPOSE},
    )
    assert answer.status_code == 200, answer.text
    return [f for f in answer.json()["features"] if f["properties"]["kind"] == "fix"]


def test_an_unknown_tag_is_refused_and_listed_for_the_admin(
    server: Server, api: httpx.Client
) -> None:
    tag = Tag(server.teltonika_port)
    assert tag.login(UNKNOWN_IMEI) == b"\x00"
    assert tag.sock.recv(16) == b""  # and the connection is closed
    tag.close()
    seen = api.get("/api/v1/unknown-devices")
    assert seen.status_code == 200, seen.text
    assert UNKNOWN_IMEI in seen.text


def test_codec_8_and_8e_split_anywhere_are_acknowledged_and_readable_in_the_api(
    server: Server, api: httpx.Client
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    base_ms = int(start.timestamp() * 1000)
    tag = Tag(server.teltonika_port)
    assert tag.login(IMEI) == b"\x01"
    sent = 0
    sample = encode_avl_packet(Codec.CODEC_8, _records(base_ms, 2))
    for cut in range(1, len(sample)):  # Codec 8 split at every byte boundary
        packet = encode_avl_packet(Codec.CODEC_8, _records(base_ms + sent * 1000, 2))
        tag.send_split(packet, cut)
        assert tag.ack() == 2, cut
        sent += 2
    sample = encode_avl_packet(Codec.CODEC_8E, _records(base_ms, 2))
    for cut in range(1, len(sample)):  # and Codec 8 Extended
        packet = encode_avl_packet(Codec.CODEC_8E, _records(base_ms + sent * 1000, 2))
        tag.send_split(packet, cut)
        assert tag.ack() == 2, cut
        sent += 2
    # Three packets in one write: three acknowledgements, in order.
    coalesced = [
        encode_avl_packet(Codec.CODEC_8E, _records(base_ms + (sent + 3 * i) * 1000, 3))
        for i in range(3)
    ]
    tag.sock.sendall(b"".join(coalesced))
    assert [tag.ack(), tag.ack(), tag.ack()] == [3, 3, 3]
    sent += 9
    # A record without a GNSS fix is stored as an invalid position.
    tag.sock.sendall(
        encode_avl_packet(Codec.CODEC_8, _records(base_ms + sent * 1000, 1, satellites=0))
    )
    assert tag.ack() == 1
    sent += 1
    tag.close()

    end = start + timedelta(seconds=sent)

    def all_fixes() -> list[dict[str, Any]] | None:
        points = _trail(api, start, end)
        return points if len(points) == sent else None

    points = until("every acknowledged fix in the trail", all_fixes)
    first = points[0]
    assert first["geometry"] == {"type": "Point", "coordinates": [-0.336, 51.752]}
    assert first["properties"]["fix_time"] == start.isoformat().replace("+00:00", "Z")
    assert first["properties"]["satellites"] == 9
    assert first["properties"]["hdop"] == 0.9
    assert first["properties"]["valid"] is True
    last = points[-1]
    assert last["properties"]["valid"] is False and last["geometry"] is None


def test_a_bad_crc_is_not_acknowledged_and_the_next_frame_on_the_connection_is(
    server: Server, api: httpx.Client
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    base_ms = int(start.timestamp() * 1000)
    tag = Tag(server.teltonika_port)
    assert tag.login(IMEI) == b"\x01"
    corrupted = bytearray(encode_avl_packet(Codec.CODEC_8, _records(base_ms, 2)))
    corrupted[-2] ^= 0x40
    tag.sock.sendall(bytes(corrupted))
    assert tag.no_ack(), "a frame with a bad CRC was acknowledged"
    tag.sock.sendall(encode_avl_packet(Codec.CODEC_8, _records(base_ms + 10_000, 2)))
    assert tag.ack() == 2
    tag.close()

    def two_fixes() -> list[dict[str, Any]] | None:
        points = _trail(api, start, start + timedelta(minutes=1))
        return points if len(points) == 2 else None

    points = until("the good frame's fixes", two_fixes)
    times = [datetime.fromisoformat(p["properties"]["fix_time"]) for p in points]
    assert times == [start + timedelta(seconds=10), start + timedelta(seconds=11)]
    metrics = api.get("/metrics").text
    assert 'tagwatch_gateway_rejects_total{protocol="teltonika",reason="bad crc"} 1' in metrics
    assert 'tagwatch_gateway_records_total{protocol="teltonika"} 2' in metrics


def test_a_breach_sends_the_tag_a_codec_12_warning_and_its_reply_marks_it_delivered(
    server: Server, api: httpx.Client
) -> None:
    zone = {
        "type": "Feature",
        "id": "zone-s-1",
        "geometry": {
            "type": "Point",
            "coordinates": [LON_E7 / 1e7, LAT_E7 / 1e7],
            "radius_m": 300.0,
        },
        "properties": {"subject_id": "s-1", "kind": "exclusion", "name": "victim's home"},
    }
    made = api.post("/api/v1/zones", json=zone)
    assert made.status_code in (200, 201), made.text
    tag = Tag(server.teltonika_port)
    try:
        assert tag.login(IMEI) == b"\x01"
        now_ms = int(time.time() * 1000)
        inside = _records(now_ms - 60_000, 3)  # a minute in the middle of the zone
        tag.sock.sendall(encode_avl_packet(Codec.CODEC_8, inside))
        assert tag.ack() == 3

        def alert() -> dict[str, Any] | None:
            items = api.get("/api/v1/alerts", params={"subject_id": "s-1"}).json()["items"]
            return items[0] if items else None

        raised = until("the exclusion alert", alert)
        assert raised["rule"] == "exclusion"
        warning = tag.command()  # on the same connection the records came over
        assert warning.kind == 0x05  # a command, not a response
        assert "exclusion zone" in warning.text

        def state() -> str:
            (notification,) = api.get(f"/api/v1/alerts/{raised['id']}").json()["notifications"]
            return str(notification["state"])

        # The gateway awaits the reply on the connection (Codec 12 has no command id).
        tag.sock.sendall(encode_command("Text shown", kind=RESPONSE))
        until("the reply to mark it delivered", lambda: state() == "delivered" or None)
        (listed,) = api.get(f"/api/v1/alerts/{raised['id']}/commands").json()
        assert (listed["channel"], listed["reply"]) == ("teltonika", "Text shown")
    finally:
        tag.close()
