"""The monitor in the ingest process takes what ingest appended from the handoff; records
it was not handed (another process's, or appended before a restart) come from the inbox,
and the results are the same either way."""

from __future__ import annotations

from typing import Any

from tagwatch.log.handoff import Handoff
from tagwatch.log.sqlite import SqliteInbox
from tagwatch.service.bootstrap import bootstrap
from tagwatch.service.config import Config
from tagwatch.service.ingest import stamp
from tagwatch.store import SecretHasher


def handoff(world: Any) -> Handoff:
    log = world.services.log
    assert isinstance(log, SqliteInbox) and log.handoff is not None
    return log.handoff


def test_the_monitor_judges_what_ingest_appended_without_reading_it_back(world) -> None:
    world.clock.set(world.at(10))
    assert world.send(world.track(0, [world.OUTSIDE, world.INSIDE, world.INSIDE])) == 3
    world.drain()
    assert (handoff(world).handed_over, handoff(world).read_back) == (3, 0)
    assert (
        len(
            world.services.store.fixes.trail(
                start=world.at(0), end=world.at(5), device_ids=[world.TAG]
            )
        )
        == 3
    )
    assert len(world.alerts()) == 1
    assert len(handoff(world)) == 0  # marked done, so let go


def test_records_another_process_appended_are_read_from_the_inbox(world) -> None:
    world.clock.set(world.at(10))
    world.send(world.track(0, [world.OUTSIDE]))
    with SqliteInbox(world.path) as importer:  # as `tagwatch import` would, elsewhere
        importer.append(stamp(world.track(1, [world.INSIDE, world.INSIDE]), [], world.at(10)))
    world.send(world.track(3, [world.INSIDE]))
    world.drain()
    assert (handoff(world).handed_over, handoff(world).read_back) == (2, 2)
    assert (
        len(
            world.services.store.fixes.trail(
                start=world.at(0), end=world.at(5), device_ids=[world.TAG]
            )
        )
        == 4
    )
    assert len(world.alerts()) == 1


def test_after_a_restart_the_monitor_reads_what_is_pending_from_the_inbox(world) -> None:
    world.clock.set(world.at(10))
    world.send(world.track(0, [world.OUTSIDE, world.INSIDE, world.INSIDE]))
    world.restart()  # nothing was judged: the new process was handed nothing
    world.drain()
    assert (handoff(world).handed_over, handoff(world).read_back) == (0, 3)
    assert (
        len(
            world.services.store.fixes.trail(
                start=world.at(0), end=world.at(5), device_ids=[world.TAG]
            )
        )
        == 3
    )
    assert len(world.alerts()) == 1


def test_a_process_without_a_monitor_keeps_nothing(world) -> None:
    config = Config(db_path=world.path, run_monitor=False)
    with bootstrap(config, clock=world.clock, hasher=SecretHasher.cheapest()) as gateway:
        assert isinstance(gateway.log, SqliteInbox)
        assert gateway.log.handoff is None
