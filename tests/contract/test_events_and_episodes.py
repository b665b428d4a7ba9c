"""Device events (idempotent) and episodes (upserted by their stable id)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from contractkit import T0, make_episode, minutes

from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind
from tagwatch.store import Store


def test_the_same_device_event_twice_is_stored_once(store: Store) -> None:
    tamper = DeviceEvent("tag-1", minutes(1), DeviceEventKind.STRAP_TAMPER, received_at=minutes(2))
    battery = DeviceEvent("tag-1", minutes(1), DeviceEventKind.BATTERY_LEVEL, 18.0)
    assert store.device_events.add_device_events([tamper, battery, tamper]) == 2
    assert store.device_events.add_device_events([tamper]) == 0
    assert store.device_events.count_device_events() == 2
    assert store.device_events.add_device_events([]) == 0


def test_device_events_round_trip_in_order_with_filters(store: Store) -> None:
    events = [
        DeviceEvent("tag-2", minutes(3), DeviceEventKind.HEARTBEAT),
        DeviceEvent("tag-1", minutes(3), DeviceEventKind.CASE_TAMPER, received_at=minutes(4)),
        DeviceEvent("tag-1", minutes(1), DeviceEventKind.BATTERY_LEVEL, 55.5),
        DeviceEvent("tag-1", minutes(9), DeviceEventKind.POWER_OFF),
    ]
    store.device_events.add_device_events(events)
    listed = store.device_events.list_device_events(start=minutes(1), end=minutes(3))
    assert listed == [events[2], events[1], events[0]]
    tag1 = store.device_events.list_device_events(start=T0, end=minutes(10), device_ids=["tag-1"])
    assert [e.time for e in tag1] == [minutes(1), minutes(3), minutes(9)]
    tampers = store.device_events.list_device_events(
        start=T0, end=minutes(10), kinds=[DeviceEventKind.CASE_TAMPER, DeviceEventKind.POWER_OFF]
    )
    assert [e.kind for e in tampers] == [DeviceEventKind.CASE_TAMPER, DeviceEventKind.POWER_OFF]
    first = store.device_events.list_device_events(start=T0, end=minutes(10), limit=1)
    assert first == [events[2]]


def test_an_episode_round_trips(store: Store) -> None:
    episode = make_episode(start=T0 + timedelta(microseconds=7))
    store.episodes.upsert_episodes([episode])
    assert store.episodes.get_episode(episode.id) == episode
    assert store.episodes.get_episode("nope") is None


def test_upserting_an_episode_again_updates_it_instead_of_adding_one(store: Store) -> None:
    opened = make_episode()
    store.episodes.upsert_episodes([opened])
    deeper = replace(opened, deepest_penetration_m=80.0, evidence=(minutes(3), minutes(1), T0))
    closed = replace(deeper, end=minutes(20))
    store.episodes.upsert_episodes([deeper])
    store.episodes.upsert_episodes([closed])
    assert store.episodes.list_episodes() == [closed]
    assert store.episodes.open_episodes() == []


def test_open_episodes_are_those_without_an_end(store: Store) -> None:
    a = make_episode(start=minutes(5))
    b = make_episode(start=minutes(1), rule=RuleKind.CURFEW, requirement_id="curfew-1")
    c = make_episode(start=minutes(2), end=minutes(4))
    d = make_episode("tag-2", "subject-2", start=minutes(3))
    store.episodes.upsert_episodes([a, b, c, d])
    assert store.episodes.open_episodes() == [b, d, a]
    assert store.episodes.open_episodes(subject_id="subject-1") == [b, a]
    assert store.episodes.open_episodes(device_id="tag-2") == [d]


def test_episodes_list_by_subject_rule_and_overlapping_time(store: Store) -> None:
    early = make_episode(start=minutes(0), end=minutes(10))
    late = make_episode(start=minutes(30), end=minutes(40))
    ongoing = make_episode(start=minutes(50), rule=RuleKind.NO_COMMS, requirement_id="")
    other = make_episode("tag-2", "subject-2", start=minutes(5), end=minutes(35))
    store.episodes.upsert_episodes([early, late, ongoing, other])

    window = store.episodes.list_episodes(
        subject_id="subject-1", start=minutes(10), end=minutes(30)
    )
    assert window == [early, late]  # both touch the window at an end
    assert store.episodes.list_episodes(subject_id="subject-1", start=minutes(60)) == [ongoing]
    assert store.episodes.list_episodes(start=minutes(11), end=minutes(29)) == [other]
    assert store.episodes.list_episodes(rules=[RuleKind.NO_COMMS]) == [ongoing]
    assert store.episodes.list_episodes(device_id="tag-2") == [other]


def test_a_retracted_episode_drops_out_of_lists_until_it_is_upserted_again(store: Store) -> None:
    episode = make_episode()
    store.episodes.upsert_episodes([episode])
    assert store.episodes.retract_episode(episode.id, at=minutes(30)) is True
    assert store.episodes.retract_episode("nope", at=minutes(30)) is False

    assert store.episodes.open_episodes() == []
    assert store.episodes.list_episodes() == []
    assert store.episodes.list_episodes(include_retracted=True) == [episode]
    assert store.episodes.get_episode(episode.id) == episode
    assert store.episodes.episode_retracted_at(episode.id) == minutes(30)

    store.episodes.upsert_episodes([episode])
    assert store.episodes.episode_retracted_at(episode.id) is None
    assert store.episodes.open_episodes() == [episode]
