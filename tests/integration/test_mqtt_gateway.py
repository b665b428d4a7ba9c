"""The MQTT gateway against a real Mosquitto (127.0.0.1:1883) and a real `tagwatch serve`:

- OwnTracks locations published to the broker show up in the subject's trail; the same
  message published again is stored once; an unknown phone is listed for the admin; a
  garbage payload is rejected without harming anything;
- the server is killed (-9) while a phone streams fixes: what was in flight and what was
  published while it was down is redelivered to its persistent session after a restart;
- a breach driven through the tag topic raises an alert, the command reaches the tag on its
  command topic, the tag's reply makes it delivered on the alert; an OwnTracks phone in its
  exclusion zone gets an OwnTracks `action` command.

Without a broker these tests fail when CI=true and are skipped otherwise.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx2 as httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from processkit import free_port, until

T = TypeVar("T")
BROKER = ("127.0.0.1", 1883)
PASSWORD = "an admin password"  # noqa: S105 - a test user's
WAIT_S = 20.0
CENTRE = (-0.336, 51.752)  # lon, lat: St Albans
OUTSIDE_LAT = CENTRE[1] + 2000 / 111_320  # 2 km north of the zone's centre

pytestmark = pytest.mark.slow


def _broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _needs_mosquitto() -> None:
    if not _broker_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Mosquitto is not listening on 127.0.0.1:1883")
        pytest.skip("Mosquitto is not listening on 127.0.0.1:1883")


class Server:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.api = f"http://127.0.0.1:{free_port()}"
        self.log = log
        port = self.api.rsplit(":", 1)[1]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tagwatch.cli",
                    "serve",
                    "--port",
                    port,
                    "--osmand-port",
                    str(free_port()),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_subscribed(self) -> None:
        def ready() -> bool | None:
            assert self.process.poll() is None, self.log.read_text()
            try:
                answer = httpx.get(f"{self.api}/metrics", timeout=1)
            except httpx.HTTPError:
                return None
            opened = 'tagwatch_gateway_connections_open{protocol="mqtt"} 1'
            return (answer.status_code == 200 and opened in answer.text) or None

        until("the MQTT gateway to subscribe", ready)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class Device:
    """A paho client standing in for a phone or tag: publishes at QoS 1, collects what it
    receives on its subscriptions."""

    def __init__(self, *subscriptions: str) -> None:
        self.received: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4()}")
        self.client.on_message = self._on_message
        self.client.connect(*BROKER)
        self.client.loop_start()
        for topic in subscriptions:
            result, _mid = self.client.subscribe(topic, qos=1)
            assert result == mqtt.MQTT_ERR_SUCCESS
        time.sleep(0.2)  # let the SUBACKs arrive

    def _on_message(self, _client: object, _userdata: object, message: Any) -> None:
        self.received.put((message.topic, json.loads(message.payload)))

    def publish(self, topic: str, payload: dict[str, Any] | bytes) -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self.client.publish(topic, raw, qos=1)
        info.wait_for_publish(5)
        assert info.is_published()

    def next_message(self, timeout_s: float = WAIT_S) -> tuple[str, dict[str, Any]]:
        return self.received.get(timeout=timeout_s)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def names() -> dict[str, str]:
    run = uuid.uuid4().hex[:8]
    return {"user": f"u{run}", "tag": f"tag-{run}", "client_id": f"tagwatch-test-{run}"}


@pytest.fixture
def env(tmp_path: Path, names: dict[str, str]) -> Iterator[dict[str, str]]:
    values = {
        **os.environ,
        "TAGWATCH_DB": str(tmp_path / "tagwatch.db"),
        "TAGWATCH_MONITOR_INTERVAL_S": "0.1",
        "TAGWATCH_MQTT_URL": "mqtt://127.0.0.1:1883",
        "TAGWATCH_MQTT_CLIENT_ID": names["client_id"],
        "TAGWATCH_TELTONIKA_PORT": "0",  # not needed here; 5027 may be taken by another run
    }
    for name in ("TAGWATCH_STORE", "TAGWATCH_LOG"):
        values.pop(name, None)
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "tagwatch.cli",
            "user",
            "add",
            "root",
            "--role",
            "admin",
            "--password",
            PASSWORD,
        ],
        env=values,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    yield values
    # Drop the gateway's persistent session so the broker stops queueing for it.
    cleaner = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=names["client_id"], clean_session=True
    )
    cleaner.connect(*BROKER)
    cleaner.disconnect()


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[Server]:
    server = Server(env, log)
    try:
        server.wait_subscribed()
        yield server
    finally:
        server.stop()


@contextmanager
def admin(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api, timeout=10) as api:
        answer = api.post("/api/v1/auth/token", data={"username": "root", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        api.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield api


def register(api: httpx.Client, subject: str, device: str, protocol: str) -> None:
    since = datetime.fromtimestamp(time.time() - 86400, UTC).isoformat()
    zone = {
        "type": "Feature",
        "id": f"zone-{subject}",
        "geometry": {"type": "Point", "coordinates": list(CENTRE), "radius_m": 300.0},
        "properties": {"subject_id": subject, "kind": "exclusion", "name": "victim's home"},
    }
    for path, body in [
        ("/api/v1/subjects", {"id": subject, "name": subject, "risk_level": "high"}),
        ("/api/v1/devices", {"id": device, "protocol": protocol}),
        ("/api/v1/assignments", {"device_id": device, "subject_id": subject, "start": since}),
        ("/api/v1/zones", zone),
    ]:
        answer = api.post(path, json=body)
        assert answer.status_code in (200, 201), answer.text


def trail_times(api: httpx.Client, subject: str) -> list[int]:
    start = datetime.fromtimestamp(time.time() - 7200, UTC).isoformat()
    end = datetime.fromtimestamp(time.time() + 60, UTC).isoformat()
    answer = api.get(
        f"/api/v1/subjects/{subject}/trail",
        params={
            "start": start,
            "end": end,
            "format": "geojson",
            "purpose_code": "monitoring",
            "purpose": "MQTT gateway test",
        },
    )
    assert answer.status_code == 200, answer.text
    return [
        int(datetime.fromisoformat(f["properties"]["fix_time"]).timestamp())
        for f in answer.json()["features"]
        if f["properties"].get("kind") == "fix"
    ]


def location(tst: int, lat: float = OUTSIDE_LAT, acc: int = 8) -> dict[str, Any]:
    return {"_type": "location", "lat": lat, "lon": CENTRE[0], "tst": tst, "acc": acc, "batt": 77}


def test_owntracks_locations_reach_the_trail_once_each(
    env: dict[str, str], names: dict[str, str], tmp_path: Path
) -> None:
    user = names["user"]
    topic = f"owntracks/{user}/phone"
    phone = Device()
    try:
        with serving(env, tmp_path / "serve.log") as server, admin(server) as api:
            register(api, "s-phone", f"{user}:phone", "owntracks")
            first = int(time.time()) - 600
            phone.publish(topic, location(first))
            phone.publish(topic, location(first + 60))
            phone.publish(topic, {"_type": "waypoint", "desc": "home", "tst": first})  # skipped
            phone.publish(topic, b"{not json")  # rejected, acknowledged, harmless
            phone.publish(topic, location(first))  # a duplicate of the first
            phone.publish(f"owntracks/{user}/stranger", location(first))  # unknown device
            phone.publish(topic, location(first + 120))
            until(
                "three fixes",
                lambda: (
                    trail_times(api, "s-phone")
                    == [
                        first,
                        first + 60,
                        first + 120,
                    ]
                    or None
                ),
            )
            time.sleep(1.0)  # had the duplicate been stored twice, it would be by now
            assert sorted(trail_times(api, "s-phone")) == [first, first + 60, first + 120]

            unknown = api.get("/api/v1/unknown-devices").json()
            assert f"{user}:stranger" in {row["device_id"] for row in unknown}
            metrics = api.get("/metrics").text
            assert (
                'tagwatch_gateway_rejects_total{protocol="mqtt",reason="payload is not JSON"}'
                in (metrics)
            )
            assert 'reason="unknown device"' in metrics
            assert 'tagwatch_gateway_frames_total{protocol="mqtt",codec="owntracks"}' in metrics
    finally:
        phone.close()


def test_kill_9_mid_stream_loses_no_message_the_broker_accepted(
    env: dict[str, str], names: dict[str, str], tmp_path: Path
) -> None:
    """The phone publishes a fix every 20 ms; the server is killed (-9) mid-stream and
    restarted later. Every message the broker acknowledged to the phone (sent while the
    server was up, in flight when it died, or sent while it was down) ends up stored."""
    user = names["user"]
    topic = f"owntracks/{user}/phone"
    phone = Device()
    first = int(time.time()) - 3000
    published: list[int] = []

    def stream() -> None:
        for tst in range(first, first + 150):
            phone.publish(topic, location(tst))
            published.append(tst)
            time.sleep(0.02)

    sender = threading.Thread(target=stream, daemon=True)
    try:
        with serving(env, tmp_path / "serve-0.log") as server, admin(server) as api:
            register(api, "s-phone", f"{user}:phone", "owntracks")
            sender.start()
            until("some fixes stored", lambda: len(trail_times(api, "s-phone")) >= 30 or None)
            server.kill()  # kill -9 mid-stream; the broker keeps the session's messages
        sender.join(30)
        assert not sender.is_alive() and len(published) == 150
        with serving(env, tmp_path / "serve-1.log") as server, admin(server) as api:
            until(
                "every acknowledged message stored",
                lambda: sorted(trail_times(api, "s-phone")) == published or None,
            )
    finally:
        phone.close()


def alert_of(api: httpx.Client, subject: str) -> dict[str, Any] | None:
    items = api.get("/api/v1/alerts", params={"subject_id": subject}).json()["items"]
    return items[0] if items else None


def test_a_breach_sends_the_tag_a_command_and_its_reply_marks_it_delivered(
    env: dict[str, str], names: dict[str, str], tmp_path: Path
) -> None:
    tag_id = names["tag"]
    tag = Device(f"tagwatch/tags/{tag_id}/cmd")
    try:
        with serving(env, tmp_path / "serve.log") as server, admin(server) as api:
            register(api, "s-tag", tag_id, "mqtt")
            now = time.time()
            lon, lat = CENTRE
            tag.publish(
                f"tagwatch/tags/{tag_id}/up",
                {
                    "v": 1,
                    "fixes": [
                        {"time": now - 60 + 30 * i, "lat": lat, "lon": lon, "accuracy_m": 8}
                        for i in range(3)
                    ],
                    "events": [{"time": now, "kind": "battery_level", "value": 64}],
                },
            )
            alert = until("the exclusion alert", lambda: alert_of(api, "s-tag"))
            assert alert["rule"] == "exclusion"

            topic, command = tag.next_message()
            assert topic == f"tagwatch/tags/{tag_id}/cmd"
            assert command["type"] == "text" and command["alert_id"] == alert["id"]
            assert "exclusion zone" in command["text"]

            def state() -> str:
                detail = api.get(f"/api/v1/alerts/{alert['id']}").json()
                (notification,) = detail["notifications"]
                return str(notification["state"])

            until("the command to be sent", lambda: state() == "sent" or None)
            tag.publish(
                f"tagwatch/tags/{tag_id}/reply",
                {"command_id": command["command_id"], "status": "delivered", "text": "shown"},
            )
            until("the reply to mark it delivered", lambda: state() == "delivered" or None)
            (listed,) = api.get(f"/api/v1/alerts/{alert['id']}/commands").json()
            assert (listed["channel"], listed["reply"], listed["attempts"]) == ("mqtt", "shown", 1)
            assert api.get("/api/v1/alerts/no-such-alert/commands").status_code == 404
    finally:
        tag.close()


def test_an_owntracks_phone_in_its_exclusion_zone_gets_an_action_command(
    env: dict[str, str], names: dict[str, str], tmp_path: Path
) -> None:
    user = names["user"]
    phone = Device(f"owntracks/{user}/phone/cmd")
    try:
        with serving(env, tmp_path / "serve.log") as server, admin(server) as api:
            register(api, "s-phone", f"{user}:phone", "owntracks")
            now = int(time.time())
            for tst in (now - 60, now - 30, now):
                phone.publish(f"owntracks/{user}/phone", location(tst, lat=CENTRE[1], acc=5))
            alert = until("the exclusion alert", lambda: alert_of(api, "s-phone"))
            topic, command = phone.next_message()
            assert topic == f"owntracks/{user}/phone/cmd"
            assert command["_type"] == "cmd" and command["action"] == "action"
            assert "exclusion zone" in command["notification"]

            def notification() -> tuple[str, str] | None:
                (shown,) = api.get(f"/api/v1/alerts/{alert['id']}").json()["notifications"]
                found = (shown["channel"], shown["state"])
                return found if found != ("owntracks", "queued") else None

            # OwnTracks apps never answer: "sent" (the broker has it for the phone) is final.
            assert until("the command to be sent", notification) == ("owntracks", "sent")
    finally:
        phone.close()
