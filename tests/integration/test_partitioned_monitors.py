"""Partitioned monitors as real processes on a NATS log: the results of an uninterrupted
run, whether the partitions are split between two processes or a process is killed with
SIGKILL mid-batch and a standby takes its partitions over; and a curfew's home beacon in
another partition than its tag still reaching the tag's monitor.

The test process plays the gateway (it appends the fixes to the NATS log with a
non-consuming NatsLog, exactly as `tagwatch serve` does) and reads the store; the
monitors are `tagwatch monitor` processes. The expected episodes come from one clean run
of the engine over the same fixes.
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

import pytest

from natskit import drop_namespace, new_namespace, require_nats
from tagwatch.domain.episodes import Episode, RuleKind
from tagwatch.domain.people import Assignment, Device, RiskLevel, Subject
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.domain.schedules import Schedule
from tagwatch.domain.zones import Circle, Curfew, Zone, ZoneKind
from tagwatch.engine import EngineState, compile_rules, evaluate
from tagwatch.log.codec import event_record, fix_record
from tagwatch.log.contract import partition_of
from tagwatch.log.nats import NatsLog, NatsLogSettings
from tagwatch.service.clock import SystemClock
from tagwatch.service.routing import BeaconRoutes
from tagwatch.store import SecretHasher, Store, create_store

DEVICES = 24
MINUTES = 30
PARTITIONS = 4
METRES_PER_DEGREE_LAT = 111_320.0


def centre(i: int) -> tuple[float, float]:
    return (-0.5 + 0.02 * (i % 6), 51.70 + 0.02 * (i // 6))  # lon, lat: 1-2 km apart


def norths(i: int) -> list[float]:
    """Outside, then 8 minutes deep inside (starting at a minute of its own), then outside."""
    enter = 6 + i % 5
    return [0.0 if enter <= m < enter + 8 else 1500.0 for m in range(MINUTES)]


def fixes(base: datetime) -> list[Fix]:
    made = []
    for i in range(DEVICES):
        lon, lat = centre(i)
        for minute, north in enumerate(norths(i)):
            made.append(
                Fix(
                    f"tag-{i:02d}",
                    base + timedelta(minutes=minute),
                    lat + north / METRES_PER_DEGREE_LAT,
                    lon,
                    10.0,
                )
            )
    return made


def seed(store: Store, since: datetime) -> None:
    for i in range(DEVICES):
        subject = f"subject-{i:02d}"
        store.subjects.save_subject(Subject(subject, f"Subject {i}", RiskLevel.HIGH))
        store.devices.save_device(Device(f"tag-{i:02d}"))
        store.assignments.save_assignment(Assignment(f"tag-{i:02d}", subject, since))
        store.zones.save_zone(
            Zone(f"zone-{i:02d}", subject, ZoneKind.EXCLUSION, Circle(*centre(i), 300.0))
        )


def summary(episodes: list[Episode]) -> set[tuple[str, str, datetime, datetime | None]]:
    return {(e.id, e.device_id, e.start, e.end) for e in episodes}


class Deployment:
    """A store file, a NATS namespace and the `tagwatch monitor` processes on them."""

    def __init__(self, directory: Path, nats_url: str) -> None:
        self.directory = directory
        self.store_url = f"sqlite:///{directory / 'tagwatch.db'}"
        self.namespace = new_namespace()
        self.nats_url = nats_url
        self.log_url = (
            f"{nats_url}?partitions={PARTITIONS}&namespace={self.namespace}"
            "&lease_s=1.5&ack_wait_s=2"
        )
        self.base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=MINUTES + 5)
        self.store = create_store(self.store_url, hasher=SecretHasher.cheapest())
        self.store.open()
        seed(self.store, self.base - timedelta(days=1))
        self.processes: list[subprocess.Popen[bytes]] = []
        self.gateway = NatsLog(NatsLogSettings.from_url(self.log_url))
        self.gateway.open()

    def monitor(self, partitions: str, *, batch: int = 5000) -> subprocess.Popen[bytes]:
        env = dict(
            os.environ,
            TAGWATCH_STORE=self.store_url,
            TAGWATCH_LOG=self.log_url,
            TAGWATCH_MONITOR_BATCH=str(batch),
            TAGWATCH_MONITOR_INTERVAL_S="0.05",
        )
        output = self.directory / f"monitor-{len(self.processes)}.log"
        with output.open("wb") as sink:  # a file, not a pipe nobody reads while it runs
            process = subprocess.Popen(
                [sys.executable, "-m", "tagwatch.cli", "monitor", "--partitions", partitions],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def publish(self, sent: list[Fix]) -> None:
        now = datetime.now(UTC)
        for i in range(0, len(sent), 50):
            assert self.gateway.append([fix_record(f, received_at=now) for f in sent[i : i + 50]])

    def wait_until_stored(self, total: int, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.store.fixes.count_fixes() < total or self.gateway.count_pending():
            for n, process in enumerate(self.processes):
                if process.poll() not in (None, -signal.SIGKILL):
                    output = (self.directory / f"monitor-{n}.log").read_text()
                    raise AssertionError(f"a monitor exited: {output[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.store.fixes.count_fixes()} of {total} fixes stored in time"
                )
            time.sleep(0.1)

    def episodes(self, *, include_retracted: bool = False) -> list[Episode]:
        return self.store.episodes.list_episodes(
            rules=[RuleKind.EXCLUSION], include_retracted=include_retracted
        )

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.gateway.close()
        self.store.close()
        drop_namespace(self.nats_url, self.namespace)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    made = Deployment(tmp_path, require_nats())
    try:
        yield made
    finally:
        made.close()


def expected_episodes(deployment: Deployment, sent: list[Fix]) -> list[Episode]:
    now = datetime.now(UTC)
    rules = compile_rules(deployment.store.rule_book(now))
    _, _ = evaluate(rules, EngineState.empty(rules), [], [], now)
    state, _ = evaluate(rules, EngineState.empty(rules), sent, [], now)
    return [e for e in state.all_episodes() if e.rule is RuleKind.EXCLUSION]


def one_alert_per_episode(deployment: Deployment, episodes: list[Episode]) -> None:
    alerts = deployment.store.alerts.list_alerts(limit=1000).alerts
    assert sorted(a.episode_id for a in alerts) == sorted(e.id for e in episodes)


def test_two_processes_split_the_partitions_and_judge_like_one(deployment: Deployment) -> None:
    sent = fixes(deployment.base)
    deployment.monitor("0-1")
    deployment.monitor("2-3")
    deployment.publish(sent)
    deployment.wait_until_stored(len(sent))
    expected = expected_episodes(deployment, sent)
    assert len(expected) == DEVICES  # every tag entered its zone once
    wait_for_episodes(deployment, expected)
    one_alert_per_episode(deployment, expected)


def test_a_standby_takes_over_a_monitor_killed_mid_batch(deployment: Deployment) -> None:
    sent = fixes(deployment.base)
    active = deployment.monitor("0-3", batch=20)
    time.sleep(3.0)  # it claims every partition before the standby starts
    deployment.monitor("0-3", batch=20)
    deployment.publish(sent)
    deadline = time.monotonic() + 60
    while deployment.store.fixes.count_fixes() < len(sent) // 4:
        assert time.monotonic() < deadline, "the active monitor made no progress"
        time.sleep(0.02)
    os.kill(active.pid, signal.SIGKILL)  # mid-batch: records fetched, not acknowledged
    stored_at_kill = deployment.store.fixes.count_fixes()
    assert stored_at_kill < len(sent)
    deployment.wait_until_stored(len(sent))
    expected = expected_episodes(deployment, sent)
    wait_for_episodes(deployment, expected)
    one_alert_per_episode(deployment, expected)
    assert deployment.store.fixes.count_fixes() == len(sent)  # nothing doubled


def wait_for_episodes(deployment: Deployment, expected: list[Episode]) -> None:
    deadline = time.monotonic() + 30
    while summary(deployment.episodes()) != summary(expected):
        if time.monotonic() > deadline:
            got = summary(deployment.episodes(include_retracted=True))
            want = summary(expected)
            devices = {row[1] for row in got ^ want}
            detail = sorted(row for row in got | want if row[1] in devices)
            raise AssertionError(
                f"missing {sorted(want - got)}\nextra {sorted(got - want)}\nall {detail}"
            )
        time.sleep(0.2)


def test_a_home_beacon_in_another_partition_keeps_its_tag_compliant(
    deployment: Deployment,
) -> None:
    """A curfew met by the home beacon while GPS puts the tag 2 km away: the beacon's own
    partition is not the tag's, yet the gateway routes its events to the tag's monitor."""
    tag = "tag-00"
    beacon = next(
        f"hmu-{n}"
        for n in range(100)
        if partition_of(f"hmu-{n}", PARTITIONS) // 2 != partition_of(tag, PARTITIONS) // 2
    )
    home = centre(0)
    with deployment.store.transaction() as tx:
        tx.devices.save_device(Device(beacon))
        tx.curfews.save_curfew(
            Curfew(
                "curfew-00", "subject-00", Circle(*home, 100.0), Schedule(), beacon_device_id=beacon
            )
        )
    deployment.gateway.route = BeaconRoutes(deployment.store, SystemClock())
    lon, lat = home
    away = [
        Fix(
            tag,
            deployment.base + timedelta(minutes=m),
            lat + 2000 / METRES_PER_DEGREE_LAT,
            lon,
            10.0,
        )
        for m in range(MINUTES)
    ]
    in_range = DeviceEvent(
        beacon, deployment.base - timedelta(minutes=1), DeviceEventKind.BEACON_IN_RANGE
    )

    def curfew_episodes(events: list[DeviceEvent]) -> list[Episode]:
        now = datetime.now(UTC)
        rules = compile_rules(deployment.store.rule_book(now))
        state, _ = evaluate(rules, EngineState.empty(rules), away, events, now)
        return [e for e in state.all_episodes() if e.rule is RuleKind.CURFEW]

    assert curfew_episodes([]), "without the beacon the tag is away during its curfew"
    assert curfew_episodes([in_range]) == []

    deployment.monitor("0-1")  # the two processes split the partitions: the beacon's
    deployment.monitor("2-3")  # partition is owned by the other process
    time.sleep(2.0)  # both have claimed their partitions
    now = datetime.now(UTC)
    assert deployment.gateway.append([event_record(in_range, received_at=now)]) == 1
    deployment.publish(away)
    deployment.wait_until_stored(len(away))
    time.sleep(2.0)  # a step after the last fixes
    curfews = deployment.store.episodes.list_episodes(rules=[RuleKind.CURFEW])
    assert curfews == [], curfews
