"""The monitor turns fixes that arrived through Ingest into episodes, alerts and history.

Real SQLite files, the real engine, the real inbox: only the clock is held still.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import timedelta

import pytest

from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.people import RiskLevel
from tagwatch.store.records import AlertSeverity, AlertState

IN, OUT = 0.0, 1000.0


def test_an_exclusion_breach_is_one_alert_raised_then_closed(world) -> None:
    world.live(0, [OUT] * 3 + [IN] * 10 + [OUT] * 5)

    [alert] = world.alerts()
    [episode] = world.episodes()
    assert alert.episode_id == episode.id
    assert (alert.rule, alert.requirement_id, alert.subject_id) == (
        RuleKind.EXCLUSION,
        world.ZONE,
        world.SUBJECT,
    )
    assert alert.state is AlertState.NEW
    assert alert.severity is AlertSeverity.HIGH  # exclusion, medium risk, on time
    assert alert.occurred_at == world.at(3) == episode.start
    assert alert.ack_deadline == alert.created_at + timedelta(minutes=5)
    assert not alert.late
    assert episode.end is not None
    assert world.actions(alert) == ["raised", "closed"]
    assert all(row.actor == "monitor" for row in world.history(alert))
    assert world.services.store.fixes.count_fixes() == 18
    assert world.services.log.count_pending() == 0


def test_the_alert_is_updated_not_duplicated_while_the_episode_lasts(world) -> None:
    world.live(0, [OUT, IN, IN])
    [raised] = world.alerts()
    world.live(3, [IN] * 20)

    [alert] = world.alerts()
    assert alert.id == raised.id
    assert world.actions(alert) == ["raised"]
    assert world.services.store.episodes.open_episodes()[0].id == alert.episode_id


def test_the_operators_state_survives_the_monitors_updates(world) -> None:
    world.live(0, [OUT, IN, IN])
    [alert] = world.alerts()
    world.services.alerts.act(alert.id, "acknowledge", actor="op-1", note="calling")
    world.live(3, [IN] * 3 + [OUT] * 4)

    [alert] = world.alerts()
    assert alert.state is AlertState.ACKNOWLEDGED
    assert world.actions(alert) == ["raised", "acknowledge", "closed"]


def test_a_late_batch_raises_a_late_alert_in_the_past(world) -> None:
    world.live(0, [OUT] * 3)
    buffered = world.track(3, [IN] * 6 + [OUT] * 4)  # out of coverage, uploaded 2 h later
    world.clock.set(world.at(120))
    assert world.send(buffered) == 10
    world.drain()

    [alert] = world.alerts()
    assert alert.late
    assert alert.occurred_at == world.at(3)
    assert alert.detected_at == world.at(120)
    assert alert.severity is AlertSeverity.MEDIUM  # late lowers high one step
    assert world.actions(alert) == ["raised", "closed"]


def test_duplicate_and_reordered_batches_give_the_same_single_alert(world) -> None:
    fixes = world.track(0, [OUT] * 2 + [IN] * 8 + [OUT] * 5)
    world.clock.set(world.at(16))
    assert world.send(fixes[8:]) == 7
    assert world.send(fixes[8:]) == 0  # a retry before it was judged
    world.drain()
    assert world.send(fixes[:8]) == 8
    world.drain()
    assert world.send(fixes) == 0  # a retry after it was judged (within the dedupe window)
    world.drain()

    [alert] = world.alerts()
    [episode] = world.episodes()
    assert alert.episode_id == episode.id
    assert episode.start == world.at(2)
    assert episode.end is not None
    assert world.services.store.fixes.count_fixes() == 15


def test_a_late_fix_that_moves_the_start_updates_the_same_alert(world) -> None:
    fixes = world.track(0, [OUT] + [IN] * 6)
    world.clock.set(world.at(7))
    world.send(fixes[3:])
    world.drain()
    [first] = world.alerts()
    assert first.occurred_at == world.at(3)

    world.send(fixes[:3])  # the earlier fixes arrive late: the episode began at minute 1
    world.drain(8)

    [alert] = world.alerts()
    assert alert.id == first.id
    assert alert.occurred_at == world.at(1)
    assert world.actions(alert) == ["raised", "updated"]
    [episode] = world.episodes()
    assert episode.start == world.at(1)
    retracted = world.services.store.episodes.episode_retracted_at(first.episode_id)
    assert retracted is not None


def test_silence_raises_no_comms_from_the_clock_alone(world) -> None:
    world.live(0, [OUT] * 3)
    world.clock.set(world.at(40))
    assert world.services.monitor.run_once() == 0

    [alert] = world.alerts()
    assert alert.rule is RuleKind.NO_COMMS
    assert world.actions(alert) == ["raised"]


def test_approach_warnings_are_alerts_of_their_own(world) -> None:
    store = world.services.store
    store.zones.save_zone(replace(world.zone(), warning_buffer_m=300.0))
    world.services.monitor.notify_rules_changed()
    world.live(0, [OUT, 350.0, 350.0, OUT])  # 150 m outside the zone: in the buffer

    [alert] = world.alerts()
    assert alert.episode_id.split("/")[1] == "approach"
    assert alert.requirement_id == world.ZONE
    assert alert.severity is AlertSeverity.MEDIUM  # approach, medium risk
    assert world.actions(alert) == ["raised"]


def test_the_subjects_risk_level_sets_the_severity(world) -> None:
    store = world.services.store
    subject = store.subjects.get_subject(world.SUBJECT)
    store.subjects.save_subject(replace(subject, risk_level=RiskLevel.VERY_HIGH))
    world.live(0, [OUT, IN, IN])

    [alert] = world.alerts()
    assert alert.severity is AlertSeverity.CRITICAL
    assert alert.ack_deadline == alert.created_at + timedelta(minutes=2)


def test_alerts_and_positions_go_out_on_the_bus(world) -> None:
    async def scenario() -> list[dict[str, object]]:
        feed = world.services.bus.subscribe()
        await asyncio.to_thread(world.live, 0, [OUT, IN, IN])
        messages = []
        while feed.pending():
            messages.append(await feed.get())
        feed.close()
        return messages

    messages = asyncio.run(scenario())
    kinds = [m["type"] for m in messages]
    assert kinds.count("position") == 3
    alerts = [m["alert"] for m in messages if m["type"] == "alert"]
    assert kinds[:2] == ["position", "alert"]  # raised by the second fix's step
    assert {a["id"] for a in alerts} == {world.alerts()[0].id}  # then updated, not repeated
    assert alerts[-1]["state"] == "new"
    last = [m for m in messages if m["type"] == "position"][-1]
    assert (last["device_id"], last["subject_id"]) == (world.TAG, world.SUBJECT)


@pytest.fixture(autouse=True)
def _started(world) -> None:
    """Every test starts with an empty inbox and a rebuilt monitor."""
    world.drain()


def test_a_record_that_does_not_decode_is_refused_without_stalling_the_log(world) -> None:
    world.clock.set(world.at(1))
    world.send([world.fix(0, OUT)])
    with sqlite3.connect(world.path) as conn:
        conn.execute('UPDATE inbox SET payload = \'{"device_id": "tag-1"}\'')
    world.restart()  # read from the file: this process's handoff would still hold the original
    world.send([world.fix(1, OUT)])
    world.drain()

    assert world.services.log.count_pending() == 0
    assert world.services.monitor.stats().refused_records == 1
    assert [f.fix_time for f in world.services.store.fixes.latest_fixes().values()] == [world.at(1)]
