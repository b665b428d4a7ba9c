"""Alerts (one per episode), their workflow state, lists and history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from contractkit import T0, make_draft, make_episode, minutes

from tagwatch.domain.episodes import Episode, EpisodeChange, EpisodeEvent, RuleKind
from tagwatch.store import ConflictError, MissingReferenceError, NotFoundError, Store
from tagwatch.store.records import (
    Alert,
    AlertDraft,
    AlertOutcome,
    AlertSeverity,
    AlertState,
)


def _raise(store: Store, episode: Episode, **kw: object) -> Alert:
    store.episodes.upsert_episodes([episode])
    return store.alerts.upsert_alert_for_episode(make_draft(episode, **kw), now=minutes(2)).alert  # type: ignore[arg-type]


def test_the_first_upsert_creates_a_new_alert(store: Store) -> None:
    episode = make_episode()
    store.episodes.upsert_episodes([episode])
    draft = make_draft(episode, ack_deadline=minutes(7), late=True)
    result = store.alerts.upsert_alert_for_episode(draft, now=minutes(2))

    assert result.created is True
    assert result.moved_from is None
    alert = result.alert
    assert alert.episode_id == episode.id
    assert (alert.subject_id, alert.device_id) == ("subject-1", "tag-1")
    assert (alert.rule, alert.requirement_id) == (RuleKind.EXCLUSION, "zone-1")
    assert alert.severity == AlertSeverity.HIGH
    assert alert.state == AlertState.NEW
    assert alert.outcome is None
    assert alert.ack_deadline == minutes(7)
    assert alert.created_at == alert.updated_at == minutes(2)
    assert alert.occurred_at == T0
    assert alert.detected_at == episode.confirmed_at
    assert alert.late is True
    assert store.alerts.get_alert(alert.id) == alert
    assert store.alerts.alert_for_episode(episode.id) == alert


def test_an_episode_keeps_one_alert_however_often_it_is_upserted(store: Store) -> None:
    episode = make_episode()
    first = _raise(store, episode)
    store.alerts.update_alert_state(first.id, state=AlertState.ACKNOWLEDGED, now=minutes(3))
    again = store.alerts.upsert_alert_for_episode(
        make_draft(episode, severity=AlertSeverity.CRITICAL), now=minutes(4)
    )
    assert again.created is False
    assert again.alert.id == first.id
    assert again.alert.severity == AlertSeverity.CRITICAL
    assert again.alert.state == AlertState.ACKNOWLEDGED  # the workflow is not reset
    assert again.alert.created_at == minutes(2)
    assert again.alert.updated_at == minutes(4)
    assert len(store.alerts.list_alerts().alerts) == 1


def test_detection_time_stays_that_of_the_first_detection(store: Store) -> None:
    episode = make_episode()
    first = _raise(store, episode, detected_at=minutes(1), late=False)
    later = store.alerts.upsert_alert_for_episode(
        make_draft(episode, detected_at=minutes(30), late=True), now=minutes(30)
    ).alert
    assert (later.detected_at, later.late) == (first.detected_at, first.late)


def test_an_alert_follows_its_episode_when_a_rerun_replaces_it(store: Store) -> None:
    old = make_episode(start=minutes(10))
    alert = _raise(store, old)
    store.alert_history.append_alert_action(alert.id, action="created", at=minutes(2), actor="m")
    new = make_episode(start=minutes(4))  # late data: it started earlier
    store.episodes.upsert_episodes([new])

    result = store.alerts.upsert_alert_for_episode(
        make_draft(new), now=minutes(40), replaces=("unrelated", old.id)
    )

    assert result.created is False
    assert result.moved_from == old.id
    assert result.alert.id == alert.id
    assert result.alert.episode_id == new.id
    assert result.alert.occurred_at == minutes(4)
    assert store.alerts.alert_for_episode(old.id) is None
    assert len(store.alert_history.alert_history(alert.id)) == 1


def test_updating_the_state_persists_outcome_and_deadline(store: Store) -> None:
    alert = _raise(store, make_episode(), ack_deadline=minutes(7))
    escalated = store.alerts.update_alert_state(
        alert.id, state=AlertState.ESCALATED, now=minutes(8), ack_deadline=minutes(20)
    )
    assert (escalated.state, escalated.ack_deadline) == (AlertState.ESCALATED, minutes(20))
    resolved = store.alerts.update_alert_state(
        alert.id,
        state=AlertState.RESOLVED,
        now=minutes(25),
        outcome=AlertOutcome.AUTHORISED_ABSENCE,
        expected_state=AlertState.ESCALATED,
    )
    assert resolved.state == AlertState.RESOLVED
    assert resolved.outcome == AlertOutcome.AUTHORISED_ABSENCE
    assert resolved.ack_deadline == minutes(20)
    assert resolved.updated_at == minutes(25)
    assert store.alerts.get_alert(alert.id) == resolved


def test_a_state_change_based_on_a_stale_state_is_refused(store: Store) -> None:
    alert = _raise(store, make_episode())
    store.alerts.update_alert_state(
        alert.id, state=AlertState.ACKNOWLEDGED, now=minutes(3), expected_state=AlertState.NEW
    )
    with pytest.raises(ConflictError):
        store.alerts.update_alert_state(
            alert.id, state=AlertState.ACKNOWLEDGED, now=minutes(3), expected_state=AlertState.NEW
        )
    stored = store.alerts.get_alert(alert.id)
    assert stored is not None
    assert stored.updated_at == minutes(3)
    with pytest.raises(NotFoundError):
        store.alerts.update_alert_state("nope", state=AlertState.RESOLVED, now=minutes(3))


def _many_alerts(store: Store) -> list[Alert]:
    alerts = []
    for i in range(23):
        episode = make_episode(
            device_id=f"tag-{i % 3}",
            subject_id=f"subject-{i % 3}",
            start=minutes(i),
        )
        store.episodes.upsert_episodes([episode])
        severity = AlertSeverity.CRITICAL if i % 4 == 0 else AlertSeverity.MEDIUM
        created = minutes(100 + i // 2)  # pairs share a creation instant
        draft = make_draft(episode, severity=severity)
        alerts.append(store.alerts.upsert_alert_for_episode(draft, now=created).alert)
    return alerts


def test_alerts_page_newest_first_without_gaps_or_repeats(store: Store) -> None:
    alerts = _many_alerts(store)
    pages, cursor = [], None
    while True:
        page = store.alerts.list_alerts(limit=5, cursor=cursor)
        pages.append(page.alerts)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    listed = [a for p in pages for a in p]
    expected = sorted(alerts, key=lambda a: (a.created_at, a.id), reverse=True)
    assert listed == expected


def test_alerts_filter_by_state_severity_subject_and_creation(store: Store) -> None:
    alerts = _many_alerts(store)
    store.alerts.update_alert_state(alerts[4].id, state=AlertState.RESOLVED, now=minutes(200))

    def ids(**filters: object) -> set[str]:
        return {a.id for a in store.alerts.list_alerts(limit=100, **filters).alerts}  # type: ignore[arg-type]

    assert ids(states=[AlertState.RESOLVED]) == {alerts[4].id}
    assert len(ids(states=[AlertState.NEW])) == 22
    critical = {a.id for a in alerts if a.severity == AlertSeverity.CRITICAL}
    assert ids(severities=[AlertSeverity.CRITICAL]) == critical
    assert ids(subject_id="subject-1") == {a.id for a in alerts if a.subject_id == "subject-1"}
    assert ids(since=minutes(110)) == {a.id for a in alerts if a.created_at >= minutes(110)}
    both = ids(states=[AlertState.NEW], severities=[AlertSeverity.CRITICAL], subject_id="subject-0")
    assert both == {
        a.id for a in alerts if a.id in critical and a.subject_id == "subject-0" and a != alerts[4]
    }


def test_a_page_limit_must_be_sensible(store: Store) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.alerts.list_alerts(limit=0)


def test_overdue_alerts_are_unacknowledged_past_their_deadline(store: Store) -> None:
    due = _raise(store, make_episode(start=minutes(1)), ack_deadline=minutes(5))
    later = _raise(store, make_episode(start=minutes(2)), ack_deadline=minutes(9))
    acked = _raise(store, make_episode(start=minutes(3)), ack_deadline=minutes(4))
    _raise(store, make_episode(start=minutes(4)))  # no deadline
    store.alerts.update_alert_state(acked.id, state=AlertState.ACKNOWLEDGED, now=minutes(3))

    assert [a.id for a in store.alerts.overdue_alerts(minutes(5))] == [due.id]
    escalated = store.alerts.update_alert_state(
        due.id, state=AlertState.ESCALATED, now=minutes(6), ack_deadline=minutes(8)
    )
    assert [a.id for a in store.alerts.overdue_alerts(minutes(9))] == [escalated.id, later.id]


def test_alert_history_is_appended_and_read_in_order(store: Store) -> None:
    a = _raise(store, make_episode(start=minutes(1)))
    b = _raise(store, make_episode(start=minutes(2)))
    first = store.alert_history.append_alert_action(
        a.id, action="created", at=minutes(2), actor="monitor", to_state=AlertState.NEW
    )
    store.alert_history.append_alert_action(b.id, action="created", at=minutes(2), actor="monitor")
    ack = store.alert_history.append_alert_action(
        a.id,
        action="acknowledged",
        at=minutes(3),
        actor="operator:kim",
        from_state=AlertState.NEW,
        to_state=AlertState.ACKNOWLEDGED,
        note="phoned the subject, no answer",
    )
    assert ack.id > first.id
    assert store.alert_history.alert_history(a.id) == [first, ack]
    assert ack.note == "phoned the subject, no answer"
    assert (ack.from_state, ack.to_state, ack.at) == (
        AlertState.NEW,
        AlertState.ACKNOWLEDGED,
        minutes(3),
    )
    feed = store.alert_history.alert_actions_after(first.id)
    assert [x.action for x in feed] == ["created", "acknowledged"]
    assert [x.alert_id for x in feed] == [b.id, a.id]
    assert store.alert_history.alert_actions_after(0, limit=1) == [first]
    assert store.alert_history.alert_actions_after(ack.id) == []


def test_history_needs_a_known_alert(store: Store) -> None:
    with pytest.raises(MissingReferenceError):
        store.alert_history.append_alert_action(
            "nope", action="note", at=T0 + timedelta(minutes=1), actor="kim"
        )


def test_a_draft_is_made_from_the_engines_episode_event(store: Store) -> None:
    episode = make_episode(start=minutes(3))
    event = EpisodeEvent(EpisodeChange.OPENED, episode, detected_at=minutes(9), late=True)
    draft = AlertDraft.from_episode_event(
        event, severity=AlertSeverity.CRITICAL, ack_deadline=minutes(14)
    )
    assert draft == make_draft(
        episode,
        severity=AlertSeverity.CRITICAL,
        detected_at=minutes(9),
        late=True,
        ack_deadline=minutes(14),
    )
