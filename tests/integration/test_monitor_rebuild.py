"""The monitor's engine state is rebuilt from the store: at start-up and when rules change."""

from __future__ import annotations

from tagwatch.domain.rules import EngineSettings
from tagwatch.service.bootstrap import bootstrap
from tagwatch.service.config import Config, MonitorSettings
from tagwatch.store import SecretHasher
from tagwatch.store.records import AlertState

IN, OUT = 0.0, 1000.0


def test_a_restart_continues_the_episode_and_its_alert(world) -> None:
    world.live(0, [OUT] + [IN] * 5)
    [raised] = world.alerts()
    world.restart()
    world.live(6, [IN] * 3 + [OUT] * 5)

    [alert] = world.alerts()
    assert alert.id == raised.id
    assert world.actions(alert) == ["raised", "closed"]
    [episode] = world.episodes()
    assert episode.start == world.at(1)
    assert episode.end is not None


def test_records_that_arrived_while_the_monitor_was_down_are_judged_after_it(world) -> None:
    world.live(0, [OUT] * 2)
    world.clock.set(world.at(8))
    world.send(world.track(2, [IN] * 6))  # accepted, but nobody monitors
    world.restart()
    world.drain(9)

    [alert] = world.alerts()
    assert alert.occurred_at == world.at(2)
    assert world.services.log.count_pending() == 0


def test_an_episode_older_than_the_replayed_window_keeps_its_alert(world) -> None:
    world.settings = MonitorSettings(
        rules_check_s=3600.0, engine=EngineSettings(allowed_lateness_s=1800.0)
    )
    world.restart()
    world.live(0, [OUT] + [IN] * 60)  # an hour inside; the engine keeps 30 minutes
    [raised] = world.alerts()
    world.restart()  # the rebuilt engine sees only the last 30 minutes of it
    world.drain(61)
    [partial] = world.services.monitor.engine_state.open_episodes()
    assert partial.start > world.at(20)
    world.live(61, [IN] * 3 + [OUT] * 5)

    [alert] = world.alerts()
    assert alert.id == raised.id
    assert world.actions(alert) == ["raised", "closed"]
    [episode] = world.episodes()
    assert episode.start == world.at(1)
    assert episode.end is not None


def test_a_new_zone_judges_a_subject_already_inside_it(world) -> None:
    store = world.services.store
    store.zones.delete_zone(world.ZONE)
    world.services.monitor.notify_rules_changed()
    world.live(0, [IN] * 4)
    assert world.alerts() == []

    store.zones.save_zone(world.zone())
    world.services.monitor.notify_rules_changed()
    world.drain(5)

    [alert] = world.alerts()
    assert world.actions(alert) == ["raised"]
    assert world.services.store.episodes.open_episodes()[0].id == alert.episode_id


def test_a_withdrawn_zone_closes_its_open_episode_but_not_the_alert(world) -> None:
    world.live(0, [OUT] + [IN] * 4)
    world.services.store.zones.delete_zone(world.ZONE)
    world.services.monitor.notify_rules_changed()
    world.drain(6)

    [alert] = world.alerts()
    assert world.actions(alert) == ["raised", "closed"]
    assert "no longer in force" in world.history(alert)[-1].note
    assert alert.state is AlertState.NEW  # an operator still decides what it was
    assert world.services.store.episodes.open_episodes() == []
    world.live(6, [IN] * 3)  # no zone, no alert
    assert len(world.alerts()) == 1


def test_a_changed_rule_book_is_noticed_without_being_told(world) -> None:
    world.settings = MonitorSettings(rules_check_s=0.0)
    world.restart()
    world.live(0, [OUT] * 2)
    world.services.store.zones.save_zone(world.zone(radius_m=2000.0))
    world.live(2, [OUT] * 2)  # 1000 m north is now inside

    [alert] = world.alerts()
    assert alert.occurred_at == world.at(0)  # the new zone judged the kept fixes too


def test_an_inbox_in_its_own_file_gives_the_same_alerts(world, tmp_path) -> None:
    world.services.close()
    config = Config(
        db_path=world.path,
        log_url=f"sqlite:///{tmp_path / 'inbox.db'}",
        monitor=world.settings,
    )
    world.services = bootstrap(config, clock=world.clock, hasher=SecretHasher.cheapest())
    assert not world.services.log.joins_store_transaction
    world.live(0, [OUT] * 2 + [IN] * 4 + [OUT] * 4)

    [alert] = world.alerts()
    assert world.actions(alert) == ["raised", "closed"]
    assert world.services.log.count_pending() == 0
