"""Opening, migrating, transactions and snapshots."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from contractkit import T0, StoreFactory, make_draft, make_episode, make_fix, minutes, seed_subject

from tagwatch.domain.people import Subject
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind
from tagwatch.store import Store, StoreError
from tagwatch.store.records import UserRole


def test_opening_again_applies_no_migration_twice_and_keeps_the_data(
    store_factory: StoreFactory,
) -> None:
    first = store_factory()
    first.open()
    first.subjects.save_subject(Subject("subject-1", "Alex"))
    version = first.schema_version()
    first.close()

    second = store_factory()
    second.open()
    try:
        assert version >= 1
        assert second.schema_version() == version
        assert second.subjects.get_subject("subject-1") == Subject("subject-1", "Alex")
    finally:
        second.close()


def test_a_store_is_a_context_manager(store_factory: StoreFactory) -> None:
    with store_factory() as opened:
        opened.subjects.save_subject(Subject("subject-1", "Alex"))
        assert [s.id for s in opened.subjects.list_subjects()] == ["subject-1"]


def test_a_closed_store_refuses_work(store_factory: StoreFactory) -> None:
    opened = store_factory()
    opened.open()
    opened.close()
    with pytest.raises(StoreError):
        opened.subjects.save_subject(Subject("subject-1", "Alex"))


def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    seed_subject(store)
    episode = make_episode()
    with pytest.raises(RuntimeError, match="crash"), store.transaction() as tx:
        assert tx.fixes.add_fixes([make_fix("tag-1", minutes(1))]) == 1
        tx.device_events.add_device_events(
            [DeviceEvent("tag-1", minutes(1), DeviceEventKind.STRAP_TAMPER)]
        )
        tx.episodes.upsert_episodes([episode])
        alert = tx.alerts.upsert_alert_for_episode(make_draft(episode), now=minutes(2)).alert
        tx.alert_history.append_alert_action(
            alert.id, action="created", at=minutes(2), actor="monitor"
        )
        tx.subjects.save_subject(Subject("subject-2", "Sam"))
        raise RuntimeError("crash before commit")

    assert store.fixes.count_fixes() == 0
    assert store.fixes.latest_fixes() == {}
    assert store.device_events.count_device_events() == 0
    assert store.episodes.get_episode(episode.id) is None
    assert store.alerts.alert_for_episode(episode.id) is None
    assert store.alert_history.alert_actions_after(0) == []
    assert store.subjects.get_subject("subject-2") is None


def test_a_transaction_commits_everything_together(store: Store) -> None:
    seed_subject(store)
    episode = make_episode()
    with store.transaction() as tx:
        tx.fixes.add_fixes([make_fix("tag-1", minutes(1))])
        tx.episodes.upsert_episodes([episode])
        tx.alerts.upsert_alert_for_episode(make_draft(episode), now=minutes(2))
    assert store.fixes.count_fixes() == 1
    assert store.episodes.get_episode(episode.id) == episode
    assert store.alerts.alert_for_episode(episode.id) is not None


def test_reads_inside_a_transaction_see_its_own_writes(store: Store) -> None:
    with store.transaction() as tx:
        tx.subjects.save_subject(Subject("subject-1", "Alex"))
        assert tx.subjects.get_subject("subject-1") is not None


def test_other_threads_do_not_see_uncommitted_writes(store: Store) -> None:
    seen: list[object] = []
    with store.transaction() as tx:
        tx.subjects.save_subject(Subject("subject-1", "Alex"))
        reader = threading.Thread(
            target=lambda: seen.append(store.subjects.get_subject("subject-1"))
        )
        reader.start()
        reader.join(timeout=10)
    assert seen == [None]
    assert store.subjects.get_subject("subject-1") is not None


def test_a_nested_transaction_that_fails_undoes_only_its_own_writes(store: Store) -> None:
    with store.transaction() as outer:
        outer.subjects.save_subject(Subject("subject-1", "Alex"))
        with pytest.raises(RuntimeError), store.transaction() as inner:
            inner.subjects.save_subject(Subject("subject-2", "Sam"))
            raise RuntimeError("inner failure")
        outer.subjects.save_subject(Subject("subject-3", "Kim"))
    assert [s.id for s in store.subjects.list_subjects()] == ["subject-1", "subject-3"]


def test_a_failed_write_inside_a_transaction_leaves_earlier_writes_alone(store: Store) -> None:
    seed_subject(store)
    with store.transaction() as tx:
        tx.subjects.save_subject(Subject("subject-2", "Sam"))
        with pytest.raises(StoreError):
            tx.users.create_user("ops", "pw-1", UserRole.OPERATOR, now=T0)
            tx.users.create_user("ops", "pw-2", UserRole.OPERATOR, now=T0)
    assert store.subjects.get_subject("subject-2") is not None
    assert store.users.get_user("ops") is not None


def test_writers_on_many_threads_take_turns_and_lose_nothing(store: Store) -> None:
    def write(device: int) -> None:
        for batch in range(5):
            fixes = [make_fix(f"tag-{device}", minutes(batch * 10 + i + 0.5)) for i in range(10)]
            with store.transaction() as tx:
                tx.fixes.add_fixes(fixes)

    threads = [threading.Thread(target=write, args=(d,)) for d in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert store.fixes.count_fixes() == 6 * 5 * 10


def test_a_snapshot_does_not_change_while_others_commit(store: Store) -> None:
    store.subjects.save_subject(Subject("subject-1", "Alex"))
    with store.snapshot() as view:
        before = view.subjects.list_subjects()
        writer = threading.Thread(
            target=lambda: store.subjects.save_subject(Subject("subject-2", "Sam"))
        )
        writer.start()
        writer.join(timeout=10)
        assert view.subjects.list_subjects() == before
    assert len(store.subjects.list_subjects()) == 2


def test_naive_datetimes_are_refused(store: Store) -> None:
    seed_subject(store)
    naive = datetime(2026, 11, 5, 20, 0)  # noqa: DTZ001
    with pytest.raises(ValueError, match="aware"):
        store.fixes.trail(start=naive, end=naive + timedelta(hours=1), device_ids=["tag-1"])
    with pytest.raises(ValueError, match="aware"):
        store.users.create_user("ops", "pw", UserRole.OPERATOR, now=naive)
