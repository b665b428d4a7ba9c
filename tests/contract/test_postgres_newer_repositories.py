"""The repositories added to the contract after the first PostgreSQL store (organisations,
grants, sign-ins, device keys, legal holds, retention, device commands), run against every
store: the PostgreSQL store's ports are checked against the same expectations as SQLite's
until their owners' contract suites cover them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from contractkit import T0, make_draft, make_episode, make_fix, minutes, seed_subject

from tagwatch.domain.commands import CommandState, DeviceCommand
from tagwatch.store import ConflictError, MissingReferenceError, NotFoundError, Store
from tagwatch.store.holds import FixSpan, HoldReason, LegalHoldDraft
from tagwatch.store.records import (
    DEFAULT_ORGANISATION_ID,
    AlertState,
    LoginFailures,
    OrganisationKind,
    SharingGrant,
    UserRole,
)

DAY = timedelta(days=1)


def test_organisations_manage_subjects_and_users(store: Store) -> None:
    seed_subject(store, "subject-1", "tag-1")
    police = store.organisations.create_organisation(
        "herts-police", "Hertfordshire Constabulary", OrganisationKind.POLICE_FORCE, now=T0
    )
    assert store.organisations.get_organisation("herts-police") == police
    with pytest.raises(ConflictError):
        store.organisations.create_organisation(
            "herts-police", "again", OrganisationKind.POLICE_FORCE, now=T0
        )
    assert store.organisations.subject_organisation("subject-1") == DEFAULT_ORGANISATION_ID
    store.organisations.set_subject_organisation("subject-1", "herts-police")
    assert store.organisations.managed_subjects("herts-police") == ["subject-1"]
    assert store.organisations.subject_organisations(["subject-1", "x"]) == {
        "subject-1": "herts-police"
    }
    with pytest.raises(MissingReferenceError):
        store.organisations.set_subject_organisation("subject-1", "nowhere")
    with pytest.raises(MissingReferenceError):
        store.organisations.set_subject_organisation("nobody", "herts-police")
    assert store.organisations.rename_organisation("herts-police", "Herts Police") is True

    user = store.users.create_user(
        "pc-kim", "pw", UserRole.POLICE_OFFICER, now=T0, organisation_id="herts-police"
    )
    assert user.organisation_id == "herts-police"
    assert [u.username for u in store.users.list_users(organisation_id="herts-police")] == [
        "pc-kim"
    ]
    with pytest.raises(MissingReferenceError):
        store.users.create_user("x", "pw", UserRole.VIEWER, now=T0, organisation_id="nowhere")
    assert store.users.set_organisation("pc-kim", DEFAULT_ORGANISATION_ID) is True
    assert store.users.list_users(organisation_id="herts-police") == []


def test_sharing_grants_are_active_for_their_time_until_revoked(store: Store) -> None:
    seed_subject(store, "subject-1", "tag-1")
    store.organisations.create_organisation(
        "probation", "Probation", OrganisationKind.PROBATION_REGION, now=T0
    )
    grant = SharingGrant("g-1", "subject-1", "probation", "admin", T0, T0 + DAY, "case", T0, None)
    assert store.grants.create_grant(grant) == grant
    with pytest.raises(ConflictError):
        store.grants.create_grant(grant)
    with pytest.raises(ValueError, match="end after"):
        store.grants.create_grant(replace(grant, id="g-2", valid_until=T0))
    assert store.grants.granted_subjects("probation", T0 + timedelta(hours=1)) == {"subject-1"}
    assert store.grants.granted_subjects("probation", T0 + DAY) == set()
    revoked = store.grants.revoke_grant("g-1", at=T0 + timedelta(hours=2))
    assert store.grants.revoke_grant("g-1", at=T0 + timedelta(hours=3)) == revoked
    assert store.grants.list_grants(active_at=T0 + timedelta(hours=2)) == []
    assert store.grants.list_grants(subject_id="subject-1") == [revoked]
    with pytest.raises(NotFoundError):
        store.grants.revoke_grant("nope", at=T0)


def test_refresh_tokens_spend_once_and_failures_count(store: Store) -> None:
    store.sign_ins.add_refresh_token(
        "h1", username="kim", family="f1", issued_at=T0, expires_at=T0 + DAY
    )
    first = store.sign_ins.spend_refresh_token("h1", now=minutes(1))
    assert first is not None
    assert (first.reused, first.revoked, first.expires_at) == (False, False, T0 + DAY)
    again = store.sign_ins.spend_refresh_token("h1", now=minutes(2))
    assert again is not None
    assert again.reused is True
    assert store.sign_ins.spend_refresh_token("nope", now=T0) is None
    assert store.sign_ins.revoke_refresh_family("f1", now=minutes(3)) == 1
    assert store.sign_ins.revoke_user_refresh_tokens("kim", now=minutes(3)) == 0
    assert store.sign_ins.drop_expired_refresh_tokens(T0 + 2 * DAY) == 1

    assert store.sign_ins.login_failures("kim") == LoginFailures(0, None)
    store.sign_ins.record_login_failure("kim", now=T0, locked_until=None)
    locked = store.sign_ins.record_login_failure("kim", now=T0, locked_until=minutes(15))
    assert locked == LoginFailures(2, minutes(15))
    store.sign_ins.clear_login_failures("kim")
    assert store.sign_ins.login_failures("kim") == LoginFailures(0, None)


def test_a_rotated_device_secret_stays_valid_for_its_grace(store: Store) -> None:
    seed_subject(store)
    assert store.device_keys.retire_device_secret("tag-1", valid_until=T0) is False
    store.devices.set_device_secret("tag-1", "old-secret", now=T0)
    with store.transaction() as tx:
        assert tx.device_keys.retire_device_secret("tag-1", valid_until=minutes(60)) is True
        tx.devices.set_device_secret("tag-1", "new-secret", now=T0)
    assert store.device_keys.verify_previous_secret("tag-1", "old-secret", now=minutes(59))
    assert not store.device_keys.verify_previous_secret("tag-1", "old-secret", now=minutes(60))
    assert store.device_keys.previous_secret_valid_until("tag-1", now=T0) == minutes(60)
    assert store.device_keys.drop_previous_secret("tag-1") is True
    assert store.device_keys.previous_secret_valid_until("tag-1", now=T0) is None


def test_holds_keep_fixes_through_a_purge(store: Store) -> None:
    seed_subject(store, start=T0 - 90 * DAY)
    old = [T0 - 60 * DAY + timedelta(hours=h) for h in range(3)]  # a whole month ago
    store.fixes.add_fixes([make_fix("tag-1", t) for t in [*old, T0]])
    hold = store.holds.create_hold(
        LegalHoldDraft("subject-1", old[1], old[1], HoldReason.EVIDENCE_REQUEST, "court"),
        now=T0,
    )
    assert store.holds.list_holds(subject_id="subject-1", active_at=T0) == [hold]
    spans = store.holds.held_fix_spans(T0)
    assert spans == [FixSpan("tag-1", old[1], old[1])]

    purge = store.retention.purge_fixes_before(T0 - 20 * DAY, keep=spans)

    assert (purge.removed, purge.kept_by_holds) == (2, 1)
    left = store.fixes.trail(start=T0 - 90 * DAY, end=T0, device_ids=["tag-1"])
    assert [f.fix_time for f in left] == [old[1], T0]
    released = store.holds.release_hold(hold.id, at=minutes(1))
    assert released.released_at == minutes(1)
    assert store.holds.held_fix_spans(minutes(2)) == []
    assert store.retention.purge_fixes_before(T0 - 20 * DAY).removed == 1
    with pytest.raises(NotFoundError):
        store.holds.release_hold("nope", at=T0)


def test_an_alerts_hold_is_made_once_and_released_when_the_alert_is_purged(
    store: Store,
) -> None:
    seed_subject(store)
    episode = make_episode(start=minutes(1), end=minutes(5))
    store.episodes.upsert_episodes([episode])
    alert = store.alerts.upsert_alert_for_episode(make_draft(episode), now=minutes(6)).alert
    draft = LegalHoldDraft("subject-1", minutes(1), minutes(5), HoldReason.ALERT, alert_id=alert.id)
    first = store.holds.create_hold(draft, now=minutes(6))
    assert store.holds.create_hold(draft, now=minutes(7)) == first
    (span,) = store.holds.held_fix_spans(minutes(8))
    assert (span.start, span.end) == (
        minutes(1) - timedelta(hours=1),
        minutes(5) + timedelta(hours=1),
    )

    assert store.retention.purge_alerts_before(minutes(100), now=minutes(100)) == 0  # not resolved
    store.alerts.update_alert_state(alert.id, state=AlertState.RESOLVED, now=minutes(9))
    assert store.retention.purge_alerts_before(minutes(100), now=minutes(100)) == 1
    assert store.alerts.get_alert(alert.id) is None
    assert store.holds.list_holds(active_at=minutes(101)) == []


def _command(command_id: str, alert_id: str | None = None) -> DeviceCommand:
    return DeviceCommand(
        id=command_id,
        device_id="tag-1",
        channel="mqtt",
        text="Leave the exclusion zone now",
        state=CommandState.QUEUED,
        created_at=T0,
        updated_at=T0,
        expires_at=T0 + timedelta(minutes=30),
        alert_id=alert_id,
        next_attempt_at=T0,
    )


def test_device_commands_are_claimed_optimistically_and_feed_cursors_kept(store: Store) -> None:
    seed_subject(store)
    episode = make_episode()
    store.episodes.upsert_episodes([episode])
    alert = store.alerts.upsert_alert_for_episode(make_draft(episode), now=minutes(1)).alert
    queued = _command("c-1", alert.id)
    assert store.commands.add_command(queued) is True
    assert store.commands.add_command(_command("c-2", alert.id)) is False  # one per alert
    assert store.commands.get_command("c-1") == queued
    assert store.commands.due_commands(T0) == [queued]
    sent = replace(
        queued, state=CommandState.SENT, attempts=1, sent_at=minutes(1), updated_at=minutes(1)
    )
    store.commands.replace_command(queued, sent)
    with pytest.raises(ConflictError):
        store.commands.replace_command(queued, sent)  # somebody else claimed it first
    assert store.commands.commands_for_alert(alert.id) == [sent]
    assert store.commands.unfinished_commands() == [sent]
    assert store.commands.due_commands(minutes(5)) == []

    assert store.commands.feed_cursor("notifier") == 0
    store.commands.set_feed_cursor("notifier", 42)
    store.commands.set_feed_cursor("notifier", 43)
    assert store.commands.feed_cursor("notifier") == 43
