"""Legal holds and retention purges, on every store implementation.

Partition sizes differ between stores (SQLite: months, PostgreSQL: its own), so the
purges are checked on what every store promises: fixes well before the cutoff go unless
held, fixes at or after it stay, held ones stay.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from contractkit import T0, make_draft, make_episode, make_fix, seed_subject

from tagwatch.domain.positions import DeviceEvent, DeviceEventKind
from tagwatch.store import NotFoundError, Store
from tagwatch.store.audit_chain import AuditEntry, AuditQuery
from tagwatch.store.holds import ALERT_HOLD_MARGIN, FixSpan, HoldReason, LegalHoldDraft
from tagwatch.store.records import AlertOutcome, AlertState

LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
CUTOFF = datetime(2025, 9, 1, tzinfo=UTC)


def hold_draft(**overrides: object) -> LegalHoldDraft:
    values: dict[str, object] = {
        "subject_id": "subject-1",
        "start": datetime(2025, 3, 1, tzinfo=UTC),
        "end": datetime(2025, 3, 2, tzinfo=UTC),
        "reason": HoldReason.EVIDENCE_REQUEST,
        "note": "request 1",
        "created_by": "pc-1",
    }
    values.update(overrides)
    return LegalHoldDraft(**values)  # type: ignore[arg-type]


def test_holds_are_created_listed_and_released(store: Store) -> None:
    seed_subject(store, start=LONG_AGO)
    hold = store.holds.create_hold(hold_draft(), now=T0)
    assert hold.released_at is None
    assert store.holds.get_hold(hold.id) == hold
    assert store.holds.list_holds(subject_id="subject-1") == [hold]
    assert store.holds.list_holds(active_at=T0) == [hold]

    released = store.holds.release_hold(hold.id, at=T0 + timedelta(hours=1))
    assert released.released_at == T0 + timedelta(hours=1)
    again = store.holds.release_hold(hold.id, at=T0 + timedelta(hours=2))
    assert again.released_at == T0 + timedelta(hours=1)  # the first release stands
    assert store.holds.list_holds(active_at=T0 + timedelta(hours=3)) == []
    with pytest.raises(NotFoundError):
        store.holds.release_hold("no-such-hold", at=T0)


def test_an_alerts_hold_is_created_once(store: Store) -> None:
    seed_subject(store, start=LONG_AGO)
    first = store.holds.create_hold(hold_draft(alert_id="a-1", end=None), now=T0)
    second = store.holds.create_hold(hold_draft(alert_id="a-1", end=None), now=T0)
    assert first == second
    assert len(store.holds.list_holds()) == 1


def test_held_spans_follow_the_subjects_assignments(store: Store) -> None:
    # tag-1 worn until 2 March noon, then tag-2.
    seed_subject(store, device_id="tag-1", start=LONG_AGO, end=datetime(2025, 3, 1, 12, tzinfo=UTC))
    seed_subject(store, device_id="tag-2", start=datetime(2025, 3, 1, 12, tzinfo=UTC))
    store.holds.create_hold(hold_draft(), now=T0)
    spans = store.holds.held_fix_spans(T0)
    assert spans == [
        FixSpan(
            "tag-1",
            datetime(2025, 3, 1, tzinfo=UTC),
            datetime(2025, 3, 1, 12, tzinfo=UTC) - timedelta(microseconds=1),
        ),
        FixSpan("tag-2", datetime(2025, 3, 1, 12, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC)),
    ]


def test_an_alerts_hold_covers_its_episode_and_lapses_with_the_alert(store: Store) -> None:
    seed_subject(store, start=LONG_AGO)
    start, end = datetime(2025, 3, 5, 10, tzinfo=UTC), datetime(2025, 3, 5, 11, tzinfo=UTC)
    episode = make_episode(start=start, end=end)
    store.episodes.upsert_episodes([episode])
    alert = store.alerts.upsert_alert_for_episode(make_draft(episode), now=end).alert
    store.holds.create_hold(
        hold_draft(start=start, end=None, reason=HoldReason.ALERT, alert_id=alert.id), now=end
    )
    assert store.holds.held_fix_spans(T0) == [
        FixSpan("tag-1", start - ALERT_HOLD_MARGIN, end + ALERT_HOLD_MARGIN)
    ]
    store.alerts.update_alert_state(
        alert.id, state=AlertState.RESOLVED, now=end, outcome=AlertOutcome.FALSE_ALERT
    )
    assert store.retention.purge_alerts_before(T0, now=T0) == 1
    assert store.alerts.get_alert(alert.id) is None
    assert store.episodes.get_episode(episode.id) is None
    assert store.holds.held_fix_spans(T0) == []
    [hold] = store.holds.list_holds()
    assert hold.released_at == T0


def test_unresolved_alerts_survive_an_alert_purge(store: Store) -> None:
    seed_subject(store, start=LONG_AGO)
    episode = make_episode(start=LONG_AGO + timedelta(days=1))
    store.episodes.upsert_episodes([episode])
    alert = store.alerts.upsert_alert_for_episode(make_draft(episode), now=LONG_AGO).alert
    assert store.retention.purge_alerts_before(T0, now=T0) == 0
    assert store.alerts.get_alert(alert.id) is not None


def test_a_fix_purge_keeps_held_fixes_and_fixes_after_the_cutoff(store: Store) -> None:
    seed_subject(store, start=LONG_AGO)
    times = [LONG_AGO + timedelta(days=d, hours=6) for d in range(0, 400, 3)]
    store.fixes.add_fixes([make_fix("tag-1", t) for t in times])
    keep = [FixSpan("tag-1", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 4, tzinfo=UTC))]

    purge = store.retention.purge_fixes_before(CUTOFF, keep=keep)

    left = [
        f.fix_time
        for f in store.fixes.trail(
            start=LONG_AGO, end=T0 + timedelta(days=400), device_ids=["tag-1"]
        )
    ]
    held = [t for t in times if keep[0].start <= t <= keep[0].end]  # type: ignore[operator]
    assert held and set(held) <= set(left)
    assert [t for t in times if t >= CUTOFF] == [t for t in left if t >= CUTOFF]
    well_before = CUTOFF - timedelta(days=62)  # older than any partition holding the cutoff
    assert [t for t in left if t < well_before] == held
    assert purge.removed == len(times) - len(left)
    assert purge.kept_by_holds >= len(held)


def test_device_events_before_the_cutoff_are_purged(store: Store) -> None:
    events = [
        DeviceEvent("tag-1", CUTOFF + timedelta(days=d), DeviceEventKind.BATTERY_LEVEL, 40.0)
        for d in (-10, -1, 0, 5)
    ]
    store.device_events.add_device_events(events)
    assert store.retention.purge_device_events_before(CUTOFF) == 2
    left = store.device_events.list_device_events(start=LONG_AGO, end=T0)
    assert [e.time for e in left] == [events[2].time, events[3].time]


def test_an_audit_purge_keeps_a_checkpoint_the_chain_starts_from(store: Store) -> None:
    for day in range(6):
        store.audit.append(AuditEntry(at=T0 + timedelta(days=day), action="zone.save"))
    assert store.audit.purge_before(T0 - timedelta(days=1), now=T0) is None

    checkpoint = store.audit.purge_before(T0 + timedelta(days=2, hours=12), now=T0)

    assert checkpoint is not None and checkpoint.through_seq == 3
    assert store.audit.checkpoint() == checkpoint
    left = store.audit.search(AuditQuery()).records
    assert [r.seq for r in left] == [4, 5, 6]
    assert left[0].prev_hash == checkpoint.through_hash
    # Until the purge is recorded in the chain, verify says the checkpoint is unvouched.
    assert [i.kind.value for i in store.audit.verify().issues] == ["checkpoint"]
    store.audit.append(
        AuditEntry(
            at=T0 + timedelta(days=7),
            action="retention.purge",
            detail={"audit": {"through_seq": 3, "through_hash": checkpoint.through_hash}},
        )
    )
    assert store.audit.verify().intact
    # Everything purged: the next record chains to the checkpoint.
    last = store.audit.purge_before(T0 + timedelta(days=30), now=T0 + timedelta(days=30))
    assert last is not None and last.through_seq == 7
    record = store.audit.append(
        AuditEntry(
            at=T0 + timedelta(days=30),
            action="retention.purge",
            detail={"audit": {"through_seq": 7, "through_hash": last.through_hash}},
        )
    )
    assert (record.seq, record.prev_hash) == (8, last.through_hash)
    assert store.audit.verify().intact
