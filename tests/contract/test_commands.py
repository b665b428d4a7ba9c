"""Device commands (wearer notifications) and feed cursors, on every store."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from contractkit import T0, make_draft, make_episode, minutes

from tagwatch.domain.commands import CommandState, DeviceCommand
from tagwatch.store import Store
from tagwatch.store.errors import ConflictError

S = CommandState


def alert_id(store: Store, start: datetime = T0) -> str:
    episode = make_episode(start=start)
    store.episodes.upsert_episodes([episode])
    return store.alerts.upsert_alert_for_episode(make_draft(episode), now=start).alert.id


def command(
    command_id: str, alert: str | None, *, due: datetime | None = T0, created: datetime = T0
) -> DeviceCommand:
    return DeviceCommand(
        id=command_id,
        device_id="tag-1",
        channel="mqtt",
        text="tagwatch: turn back",
        state=S.QUEUED,
        created_at=created,
        updated_at=created,
        expires_at=created + timedelta(minutes=15),
        alert_id=alert,
        next_attempt_at=due,
    )


def test_a_command_reads_back_as_written(store: Store) -> None:
    written = replace(command("c-1", alert_id(store)), reply="ok", last_error="none yet")
    assert store.commands.add_command(written)
    assert store.commands.get_command("c-1") == written
    assert store.commands.get_command("c-2") is None


def test_an_alert_gets_one_command(store: Store) -> None:
    alert = alert_id(store)
    assert store.commands.add_command(command("c-1", alert))
    assert not store.commands.add_command(command("c-2", alert))
    assert [c.id for c in store.commands.commands_for_alert(alert)] == ["c-1"]
    assert store.commands.add_command(command("c-3", None))  # commands without an alert


def test_replace_writes_only_over_the_version_read(store: Store) -> None:
    queued = command("c-1", alert_id(store))
    store.commands.add_command(queued)
    sent = queued.moved(S.SENT, minutes(1), attempts=1, sent_at=minutes(1), next_attempt_at=None)
    store.commands.replace_command(queued, sent)
    assert store.commands.get_command("c-1") == sent
    with pytest.raises(ConflictError):
        store.commands.replace_command(queued, queued.moved(S.FAILED, minutes(2)))
    assert store.commands.get_command("c-1") == sent


def test_due_commands_are_queued_ones_whose_time_has_come_most_overdue_first(
    store: Store,
) -> None:
    for n, due in enumerate([minutes(3), minutes(1), minutes(2), minutes(9), None]):
        store.commands.add_command(command(f"c-{n}", alert_id(store, minutes(n)), due=due))
    assert [c.id for c in store.commands.due_commands(minutes(3))] == ["c-1", "c-2", "c-0"]
    assert [c.id for c in store.commands.due_commands(minutes(3), limit=1)] == ["c-1"]
    first = store.commands.get_command("c-1")
    assert first is not None
    store.commands.replace_command(first, first.moved(S.SENT, minutes(4)))
    assert [c.id for c in store.commands.due_commands(minutes(3))] == ["c-2", "c-0"]
    assert [c.id for c in store.commands.unfinished_commands()] == [f"c-{n}" for n in range(5)]


def test_feed_cursors_start_at_zero_and_move(store: Store) -> None:
    assert store.commands.feed_cursor("notifier") == 0
    store.commands.set_feed_cursor("notifier", 41)
    store.commands.set_feed_cursor("notifier", 42)
    store.commands.set_feed_cursor("other", 7)
    assert (store.commands.feed_cursor("notifier"), store.commands.feed_cursor("other")) == (42, 7)


def test_a_command_written_in_a_rolled_back_transaction_is_gone(store: Store) -> None:
    alert = alert_id(store)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.commands.add_command(command("c-1", alert))
        tx.commands.set_feed_cursor("notifier", 5)
        raise RuntimeError("roll back")
    assert store.commands.get_command("c-1") is None
    assert store.commands.feed_cursor("notifier") == 0
