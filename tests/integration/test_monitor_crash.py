"""Kill -9 a process that ingests and monitors, again and again: nothing acknowledged is
lost, nothing is doubled, and every violation is one alert.

The child (CHILD, run with `sys.executable -c`) bootstraps the real services on a file,
runs the monitor thread, and plays three tags walking in and out of an exclusion zone,
one fix a second, in buffered uploads of 1-4 fixes. After each round of uploads has been
accepted (Ingest returned, so the log has it on disk) it prints `ack <first> <last>`. The
parent kills it with SIGKILL at random moments, restarts it from the first unacknowledged
fix (a device re-sends what was not acknowledged), and finally lets a child drain the
inbox. Then it checks the store against the acknowledgements and against one clean run of
the engine over the stored fixes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.people import Assignment, Device, RiskLevel, Subject
from tagwatch.domain.zones import Circle, Zone, ZoneKind
from tagwatch.engine import EngineState, compile_rules, evaluate
from tagwatch.log.sqlite import SqliteInbox
from tagwatch.store import SecretHasher, SqliteStore

DEVICES = ("tag-a", "tag-b", "tag-c")
CENTRE = (-0.336, 51.752)
LAST_FIX = 4000  # fix k is at base + k seconds; base is two hours ago, so all are past
KILLS = 5

CHILD = r"""
import random, sys, time
from datetime import datetime, timedelta
from tagwatch.domain.positions import Fix
from tagwatch.service.bootstrap import bootstrap
from tagwatch.service.config import Config, MonitorSettings
from tagwatch.store import SecretHasher

db, base, first, mode, seed = sys.argv[1:6]
base, first = datetime.fromisoformat(base), int(first)
DEVICES = ("tag-a", "tag-b", "tag-c")
LON, LAT = -0.336, 51.752
LAST_FIX = 4000

def fix(device, k):
    # 100 s inside (60 m from the centre), 200 s outside (1 km), phase per device
    phase = (k + 97 * DEVICES.index(device)) % 300
    north = 60.0 if phase < 100 else 1000.0
    return Fix(device, base + timedelta(seconds=k), LAT + north / 111320.0, LON, 10.0)

settings = MonitorSettings(interval_s=0.005, rules_check_s=3600.0, prune_every_s=1.0)
services = bootstrap(Config(db_path=db, monitor=settings), hasher=SecretHasher.cheapest())
if mode == "drain":
    while services.monitor.run_once() or services.log.count_pending():
        pass
    services.close()
    print("drained", flush=True)
    sys.exit(0)
services.start()
print("ready", flush=True)
rng = random.Random(int(seed))
k = first
while k <= LAST_FIX:
    n = min(rng.randint(1, 4), LAST_FIX - k + 1)
    for device in DEVICES:
        services.ingest.accept_batch(device, [fix(device, j) for j in range(k, k + n)], [])
    print(f"ack {k} {k + n - 1}", flush=True)
    k += n
print("sent", flush=True)
time.sleep(60)
"""


def _seed(db: Path) -> None:
    with SqliteStore(db, hasher=SecretHasher.cheapest()) as store:
        start = datetime.now(UTC) - timedelta(days=1)
        for i, device in enumerate(DEVICES):
            subject = f"subject-{i}"
            store.subjects.save_subject(Subject(subject, subject, RiskLevel.HIGH))
            store.devices.save_device(Device(device))
            store.assignments.save_assignment(Assignment(device, subject, start))
            zone = Zone(f"zone-{i}", subject, ZoneKind.EXCLUSION, Circle(*CENTRE, 200.0))
            store.zones.save_zone(zone)


def _child(db: Path, base: datetime, first: int, mode: str, seed: int) -> subprocess.Popen[str]:
    args = [str(db), base.isoformat(), str(first), mode, str(seed)]
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _acks(lines: str) -> list[tuple[int, int]]:
    """Complete `ack` lines only: a line cut by the kill was not a promise."""
    found = []
    for line in lines.splitlines(keepends=True):
        words = line.split()
        if line.endswith("\n") and len(words) == 3 and words[0] == "ack":
            found.append((int(words[1]), int(words[2])))
    return found


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    db = tmp_path / "tagwatch.db"
    _seed(db)
    base = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    rng = random.Random(20261102)
    acked: set[int] = set()
    first = 0
    for round_ in range(KILLS):
        child = _child(db, base, first, "work", rng.randrange(10**6))
        assert child.stdout is not None
        ready = child.stdout.readline()
        assert ready == "ready\n", child.stderr.read() if child.stderr else ""
        time.sleep(rng.uniform(0.05, 1.5))
        os.kill(child.pid, signal.SIGKILL)
        out, err = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, err
        got = _acks(out)
        assert got or round_ == 0 or first > LAST_FIX, "the child acknowledged nothing"
        for low, high in got:
            acked.update(range(low, high + 1))
        first = max(acked, default=-1) + 1

    drain = _child(db, base, first, "drain", 0)
    out, err = drain.communicate(timeout=60)
    assert drain.returncode == 0, err
    assert out == "drained\n"
    assert len(acked) > 100, "too few fixes acknowledged to mean anything"

    with SqliteStore(db, hasher=SecretHasher.cheapest()) as store, SqliteInbox(db) as inbox:
        assert inbox.count_pending() == 0
        stored = store.fixes.trail(
            start=base - timedelta(seconds=1),
            end=base + timedelta(seconds=LAST_FIX + 1),
            device_ids=list(DEVICES),
        )
        keys = [(fix.device_id, fix.fix_time) for fix in stored]
        assert len(keys) == len(set(keys)), "a fix was stored twice"
        wanted = {(d, base + timedelta(seconds=k)) for d in DEVICES for k in acked}
        assert wanted <= set(keys), f"{len(wanted - set(keys))} acknowledged fixes were lost"

        # The episodes of one clean engine run over everything stored ...
        now = datetime.now(UTC)
        rules = compile_rules(store.rule_book(now))
        state, _ = evaluate(rules, EngineState.empty(rules), stored, [], now)
        expected = {e.id: e.end for e in state.all_episodes() if e.rule is RuleKind.EXCLUSION}
        # ... are the stored ones, each with exactly one alert raised once.
        episodes = store.episodes.list_episodes(rules=[RuleKind.EXCLUSION])
        assert {e.id: e.end for e in episodes} == expected
        assert len(expected) >= 3
        alerts = [
            a for a in store.alerts.list_alerts(limit=1000).alerts if a.rule is RuleKind.EXCLUSION
        ]
        assert sorted(a.episode_id for a in alerts) == sorted(expected)
        for alert in alerts:
            actions = [row.action for row in store.alert_history.alert_history(alert.id)]
            assert actions.count("raised") == 1, actions
            assert actions.count("closed") <= 1, actions
