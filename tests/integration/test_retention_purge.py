"""Retention purges on the real services: old data goes, held data stays, every purge audited.

The `world` (tests/integration/conftest.py) is a subject wearing tag-1 with an exclusion
zone, on a real SQLite file with a FixedClock. Old history for a second subject is written
straight into the store, month by month, so the purge has whole months to drop.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta

from tagwatch.domain.people import Assignment, Device, Subject
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.service.audit import AuditContext, AuditTrail
from tagwatch.service.bootstrap import bootstrap
from tagwatch.service.clock import FixedClock
from tagwatch.service.config import Config, RetentionSettings
from tagwatch.service.retention import Retention
from tagwatch.store import SecretHasher, SqliteStore
from tagwatch.store.audit_chain import AuditQuery, IssueKind
from tagwatch.store.holds import HoldReason, LegalHoldDraft
from tagwatch.store.records import AlertOutcome, AlertState

OLD_SUBJECT, OLD_TAG = "subject-old", "tag-old"
YEAR_AGO = datetime(2025, 1, 1, tzinfo=UTC)


def settings(**overrides: float) -> RetentionSettings:
    values = {"fixes_days": 365.0, "device_events_days": 90.0, "alerts_days": 30.0}
    values.update(overrides)
    return RetentionSettings(**values)  # type: ignore[arg-type]


def retention(world, **overrides: float) -> Retention:  # type: ignore[no-untyped-def]
    services = world.services
    return Retention(services.store, services.audit, world.clock, settings(**overrides))


def seed_old_history(world) -> list[Fix]:  # type: ignore[no-untyped-def]
    """A fix every 6 hours from January to June 2025 for a subject tagged since then."""
    store = world.services.store
    store.subjects.save_subject(Subject(OLD_SUBJECT, "Old Subject"))
    store.devices.save_device(Device(OLD_TAG))
    store.assignments.save_assignment(Assignment(OLD_TAG, OLD_SUBJECT, YEAR_AGO))
    fixes = [
        Fix(OLD_TAG, YEAR_AGO + timedelta(hours=6 * i), 51.75, -0.33, 10.0) for i in range(4 * 181)
    ]
    assert store.fixes.add_fixes(fixes) == len(fixes)
    return fixes


def old_fixes(world, start: datetime, end: datetime) -> list[Fix]:  # type: ignore[no-untyped-def]
    return world.services.store.fixes.trail(start=start, end=end, device_ids=[OLD_TAG])


def purge_records(world) -> list:  # type: ignore[no-untyped-def]
    query = AuditQuery(action="retention.purge")
    return list(world.services.audit.search(query).records)


def test_old_fixes_are_purged_by_whole_months_and_held_ones_are_kept(world) -> None:
    fixes = seed_old_history(world)
    hold_start = datetime(2025, 3, 10, tzinfo=UTC)
    hold_end = datetime(2025, 3, 12, tzinfo=UTC)
    hold = world.services.store.holds.create_hold(
        LegalHoldDraft(
            OLD_SUBJECT,
            hold_start,
            hold_end,
            HoldReason.EVIDENCE_REQUEST,
            note="Herts Police request 77/2026",
            created_by="pc-smith",
        ),
        now=world.clock.now(),
    )
    held = [f for f in fixes if hold_start <= f.fix_time <= hold_end]
    assert len(held) == 9  # 10 Mar 00:00 to 12 Mar 00:00, every 6 hours

    report = retention(world).purge()

    assert old_fixes(world, YEAR_AGO, datetime(2025, 12, 31, tzinfo=UTC)) == held
    assert report.fixes.removed == len(fixes) - len(held)
    assert report.fixes.months_dropped == 5  # January, February, April, May, June
    assert report.fixes.months_trimmed == 1  # March: only the held fixes stay
    assert report.fixes.kept_by_holds == len(held)
    [record] = purge_records(world)
    assert record == report.record
    assert record.detail["fixes"]["removed"] == len(fixes) - len(held)
    assert record.detail["fixes"]["kept_by_holds"] == len(held)
    assert record.source == "retention"
    cutoff = world.clock.now() - timedelta(days=365)
    assert record.detail["cutoffs"]["fixes"] == cutoff.isoformat()

    # Released, the hold keeps nothing: the next purge drops March too.
    world.services.store.holds.release_hold(hold.id, at=world.clock.now())
    second = retention(world).purge()
    assert old_fixes(world, YEAR_AGO, datetime(2025, 12, 31, tzinfo=UTC)) == []
    assert (second.fixes.removed, second.fixes.months_dropped) == (len(held), 1)
    assert len(purge_records(world)) == 2
    assert world.services.audit.verify().intact


def test_fixes_newer_than_the_cutoff_and_their_month_are_kept(world) -> None:
    store = world.services.store
    now = world.clock.now()  # 2 November 2026
    cutoff = now - timedelta(days=365)  # 2 November 2025
    store.subjects.save_subject(Subject(OLD_SUBJECT, "Old Subject"))
    store.devices.save_device(Device(OLD_TAG))
    early = [Fix(OLD_TAG, cutoff - timedelta(days=d), 51.75, -0.33, 10.0) for d in (40, 1)]
    late = [Fix(OLD_TAG, cutoff + timedelta(days=d), 51.75, -0.33, 10.0) for d in (0, 1, 30)]
    store.fixes.add_fixes(early + late)

    retention(world).purge()

    left = store.fixes.trail(start=YEAR_AGO, end=now, device_ids=[OLD_TAG])
    # September 2025 went; 1 November 2025 is older than the cutoff but its month is not.
    assert left == [early[1], *late]


def test_a_fixes_retention_of_zero_keeps_fixes_forever(world) -> None:
    fixes = seed_old_history(world)
    report = retention(world, fixes_days=0).purge()
    assert report.fixes.removed == 0
    assert len(old_fixes(world, YEAR_AGO, world.clock.now())) == len(fixes)
    assert purge_records(world)[0].detail["cutoffs"]["fixes"] is None


def test_the_fixes_behind_an_alert_are_held_as_long_as_the_alert(world) -> None:
    outside, inside = world.OUTSIDE, world.INSIDE
    norths = [outside] * 70 + [inside] * 10 + [outside] * 70
    world.live(0, norths)
    [alert] = world.alerts()
    store = world.services.store
    [hold] = store.holds.list_holds(subject_id=world.SUBJECT)
    assert (hold.reason, hold.alert_id) == (HoldReason.ALERT, alert.id)
    episode = store.episodes.get_episode(alert.episode_id)
    assert episode is not None and episode.end is not None

    world.clock.set(world.at(0) + timedelta(days=400))
    report = retention(world).purge()

    margin = timedelta(hours=1)
    sent = [f.fix_time for f in world.track(0, norths)]
    behind = [t for t in sent if episode.start - margin <= t <= episode.end + margin]
    kept = store.fixes.trail(start=world.at(-10), end=world.at(200), device_ids=[world.TAG])
    assert [f.fix_time for f in kept] == behind
    assert 0 < len(behind) < len(sent)
    assert report.fixes.removed == len(sent) - len(behind)

    # Resolved and older than the alerts' retention: the alert goes, and its fixes with it.
    store.alerts.update_alert_state(
        alert.id,
        state=AlertState.RESOLVED,
        now=world.clock.now() - timedelta(days=60),
        outcome=AlertOutcome.CONFIRMED_BREACH,
    )
    report = retention(world).purge()
    assert report.alerts == 1
    assert store.alerts.get_alert(alert.id) is None
    assert store.holds.get_hold(hold.id).released_at == world.clock.now()  # type: ignore[union-attr]
    assert store.fixes.trail(start=world.at(-10), end=world.at(200), device_ids=[world.TAG]) == []


def test_an_unresolved_alert_is_never_purged(world) -> None:
    world.live(0, [world.OUTSIDE, world.INSIDE, world.INSIDE])
    [alert] = world.alerts()
    world.clock.set(world.at(0) + timedelta(days=4000))
    report = retention(world).purge()
    assert report.alerts == 0
    assert world.services.store.alerts.get_alert(alert.id) is not None


def test_old_device_events_are_purged(world) -> None:
    store = world.services.store
    now = world.clock.now()
    events = [
        DeviceEvent(world.TAG, now - timedelta(days=d), DeviceEventKind.BATTERY_LEVEL, 50.0)
        for d in (200, 91, 89, 1)
    ]
    store.device_events.add_device_events(events)
    report = retention(world).purge()
    assert report.device_events == 2
    left = store.device_events.list_device_events(start=now - timedelta(days=400), end=now)
    assert left == sorted(events[2:], key=lambda e: e.time)
    assert purge_records(world)[0].detail["device_events"] == {"removed": 2}


def test_audit_records_are_kept_for_their_own_period_and_the_chain_still_verifies(world) -> None:
    audit: AuditTrail = world.services.audit
    ctx = AuditContext("op1", "monitoring-centre", "10.1.1.1")
    start = world.clock.now()
    for day in range(10):
        audit.record(ctx, "zone.save", subject_ids=[world.SUBJECT], at=start + timedelta(days=day))
    world.clock.set(start + timedelta(days=10))

    report = retention(world, audit_days=5.5).purge()

    assert report.audit_removed == 5  # days 0-4 are older than 5.5 days
    kept = list(audit.export(AuditQuery()))
    assert [r.seq for r in kept] == [6, 7, 8, 9, 10, 11]
    assert kept[-1].action == "retention.purge"
    assert kept[-1].detail["audit"]["through_seq"] == 5
    checkpoint = audit.checkpoint()
    assert checkpoint is not None and checkpoint.through_seq == 5
    assert kept[0].prev_hash == checkpoint.through_hash
    verified = audit.verify()
    assert verified.intact, verified.issues
    assert (verified.first_seq, verified.last_seq) == (6, 11)

    # A second purge removes the first purge's record too; its own record vouches now.
    world.clock.set(start + timedelta(days=30))
    retention(world, audit_days=5.5).purge()
    assert [r.action for r in audit.export(AuditQuery())] == ["retention.purge"]
    assert audit.verify().intact


def test_verify_catches_records_deleted_under_a_forged_checkpoint(world) -> None:
    audit: AuditTrail = world.services.audit
    ctx = AuditContext("op1", None, "cli")
    start = world.clock.now()
    for day in range(6):
        audit.record(ctx, "user.create", at=start + timedelta(days=day))
    world.clock.set(start + timedelta(days=6))
    retention(world, audit_days=4.5).purge()  # removes seq 1, leaves a checkpoint at 1
    assert audit.verify().intact
    # Someone removes seq 2-3 and writes a checkpoint that makes the chain look whole.
    store = world.services.store
    assert isinstance(store, SqliteStore)
    conn = sqlite3.connect(store.path, isolation_level=None)
    [(hash3,)] = conn.execute("SELECT hash FROM audit_log WHERE seq = 3").fetchall()
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq IN (2, 3)")
    conn.execute("INSERT INTO audit_checkpoints VALUES (3, ?, 0)", (hash3,))
    conn.close()
    issues = audit.verify().issues
    assert [(i.kind, i.seq) for i in issues] == [(IssueKind.CHECKPOINT, 3)]


def test_the_server_purges_on_its_own_schedule(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = FixedClock(datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
    config = Config(db_path=tmp_path / "tagwatch.db", retention=settings(interval_s=0.05))
    services = bootstrap(config, clock=clock, hasher=SecretHasher.cheapest())
    try:
        services.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            page = services.audit.search(AuditQuery(action="retention.purge"))
            if len(page.records) >= 2:
                break
            time.sleep(0.05)
        assert len(page.records) >= 2
    finally:
        services.close()
    reopened = SqliteStore(tmp_path / "tagwatch.db")
    with reopened:
        assert reopened.audit.verify().intact
