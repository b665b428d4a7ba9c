"""`tagwatch serve` on a NATS log with a `tagwatch monitor` process beside it: a device is
acknowledged only while NATS stores its reports. Stop NATS and the OsmAnd listener answers
503 (the device keeps the report and sends it again); start NATS again and it answers 200;
every acknowledged report ends up stored once and the breach is one alert.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx2 as httpx
import pytest

from natskit import PrivateNats
from processkit import free_port, until
from tagwatch.domain.people import Assignment, Device, RiskLevel, Subject
from tagwatch.domain.zones import Circle, Zone, ZoneKind
from tagwatch.store import SecretHasher, create_store

T = TypeVar("T")
LON, LAT = -0.336, 51.752
pytestmark = pytest.mark.slow


class Processes:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.directory / f"{name}.log").open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "tagwatch.cli", *args],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.running.append(process)
        return process

    def output(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text()

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    made = Processes(tmp_path)
    try:
        yield made
    finally:
        made.stop()


def test_devices_are_acknowledged_only_while_nats_stores_their_reports(
    tmp_path: Path, processes: Processes
) -> None:
    nats = PrivateNats(tmp_path / "jetstream")
    nats.start()
    try:
        run(tmp_path, processes, nats)
    finally:
        nats.stop()


def run(tmp_path: Path, processes: Processes, nats: PrivateNats) -> None:
    store_url = f"sqlite:///{tmp_path / 'tagwatch.db'}"
    store = create_store(store_url, hasher=SecretHasher.cheapest())
    store.open()
    since = datetime.now(UTC) - timedelta(days=1)
    store.subjects.save_subject(Subject("s-1", "Sam", RiskLevel.HIGH))
    store.devices.save_device(Device("tag-1"))
    store.assignments.save_assignment(Assignment("tag-1", "s-1", since))
    store.zones.save_zone(Zone("victim-home", "s-1", ZoneKind.EXCLUSION, Circle(LON, LAT, 400)))
    env = {
        **os.environ,
        "TAGWATCH_STORE": store_url,
        "TAGWATCH_LOG": f"{nats.url}?partitions=2&lease_s=2&ack_wait_s=3",
        "TAGWATCH_MONITOR_INTERVAL_S": "0.05",
        "TAGWATCH_TELTONIKA_PORT": "0",  # no TCP gateway: its port may be taken here
    }
    api_port, osmand_port = free_port(), free_port()
    serve = processes.start(
        "serve",
        ["serve", "--port", str(api_port), "--osmand-port", str(osmand_port)],
        env,
    )
    processes.start("monitor", ["monitor", "--partitions", "0-1"], env)
    osmand = f"http://127.0.0.1:{osmand_port}"
    start = int(time.time()) - 600

    def report(step: int) -> int:
        north = 1500.0 if step < 3 else 0.0  # outside, then deep inside the zone
        params: dict[str, str | int | float] = {
            "id": "tag-1",
            "timestamp": start + step * 20,  # a retry sends the very same report
            "lat": LAT + north / 111_320.0,
            "lon": LON,
            "accuracy": 5,
        }
        try:
            return httpx.get(osmand, params=params, timeout=10).status_code
        except httpx.HTTPError:
            assert serve.poll() is None, processes.output("serve")
            return 0

    until("the OsmAnd listener", lambda: report(0) == 200 or None, timeout_s=30)
    acknowledged = {0}
    for step in (1, 2):
        assert report(step) == 200
        acknowledged.add(step)

    nats.stop()
    refused = report(3)
    assert refused == 503, processes.output("serve")[-2000:]  # the device keeps it

    nats.start()
    for step in (3, 4, 5, 6):
        until(
            f"report {step} to be taken again",
            lambda s=step: report(s) == 200 or None,  # type: ignore[misc]
            timeout_s=30,
        )
        acknowledged.add(step)

    def stored() -> int | None:
        count = store.fixes.count_fixes()
        return count if count == len(acknowledged) else None

    # A report refused while NATS was down may still have reached the stream (the client
    # sends what it buffered once reconnected): the device's retry of the same report is
    # then a duplicate, so each acknowledged report is stored exactly once.

    until("every acknowledged report to be stored", stored, timeout_s=60)
    alerts = until(
        "the breach's alert",
        lambda: store.alerts.list_alerts(limit=10).alerts or None,
        timeout_s=30,
    )
    assert [a.requirement_id for a in alerts] == ["victim-home"]
    assert serve.poll() is None
    store.close()
