"""Settings from the environment, the clocks, and bootstrap's wiring."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tagwatch.domain.people import Device
from tagwatch.domain.positions import Fix
from tagwatch.service.bootstrap import bootstrap
from tagwatch.service.clock import FixedClock, SystemClock
from tagwatch.service.config import Config, MonitorSettings
from tagwatch.store import SecretHasher

T = datetime(2026, 11, 2, 12, tzinfo=UTC)


def test_the_defaults_put_everything_in_one_sqlite_file() -> None:
    config = Config.from_env({})
    assert config.db_path == Path("tagwatch.db")
    assert config.effective_store_url == "sqlite:///tagwatch.db"
    assert config.effective_log_url == config.effective_store_url
    assert config.run_monitor
    assert config.monitor == MonitorSettings()


def test_the_environment_overrides_the_defaults() -> None:
    config = Config.from_env(
        {
            "TAGWATCH_DB": "/var/lib/tagwatch/t.db",
            "TAGWATCH_LOG": "sqlite:////var/lib/tagwatch/inbox.db",
            "TAGWATCH_MONITOR": "0",
            "TAGWATCH_MONITOR_BATCH": "100",
            "TAGWATCH_MONITOR_INTERVAL_S": "0.1",
            "TAGWATCH_RULES_CHECK_S": "2",
            "TAGWATCH_ALLOWED_LATENESS_S": "3600",
            "TAGWATCH_CRS": "EPSG:32630",
        }
    )
    assert config.effective_store_url == "sqlite:////var/lib/tagwatch/t.db"
    assert config.effective_log_url == "sqlite:////var/lib/tagwatch/inbox.db"
    assert not config.run_monitor
    assert (config.monitor.batch_size, config.monitor.interval_s) == (100, 0.1)
    assert config.monitor.rules_check_s == 2.0
    assert config.monitor.engine.allowed_lateness_s == 3600.0
    assert config.monitor.engine.crs == "EPSG:32630"
    assert Config.from_env({}).monitor.engine.crs == "auto"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TAGWATCH_MONITOR_BATCH", "lots"),
        ("TAGWATCH_MONITOR_BATCH", "0"),
        ("TAGWATCH_MONITOR_INTERVAL_S", "soon"),
        ("TAGWATCH_MONITOR", "maybe"),
        ("TAGWATCH_CRS", "EPSG:4326"),  # degrees, not metres
        ("TAGWATCH_CRS", "EPSG:99999999"),
    ],
)
def test_a_bad_setting_names_itself(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name if value != "0" else "batch size"):
        Config.from_env({name: value})


def test_clocks_are_aware_and_the_fixed_one_moves_only_when_told() -> None:
    assert SystemClock().now().tzinfo is not None
    clock = FixedClock(T.astimezone(timezone(timedelta(hours=2))))
    assert clock.now() == T and clock.now().tzinfo is UTC
    assert clock.advance(seconds=90) == T + timedelta(seconds=90)
    clock.set(T)
    assert clock.now() == T
    with pytest.raises(ValueError, match="time-zone aware"):
        FixedClock(datetime(2026, 11, 2))  # noqa: DTZ001


def test_bootstrap_puts_the_inbox_in_the_stores_file_by_default(tmp_path: Path) -> None:
    config = Config(db_path=tmp_path / "t.db")
    with bootstrap(config, hasher=SecretHasher.cheapest()) as services:
        assert services.log.joins_store_transaction
        assert not services.monitor_running


def test_bootstrap_refuses_a_log_it_does_not_have(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no log for 'redis' URLs"):
        bootstrap(Config(db_path=tmp_path / "t.db", log_url="redis://localhost:6379"))


def test_the_monitor_thread_starts_judges_and_stops(tmp_path: Path) -> None:
    config = Config(db_path=tmp_path / "t.db", monitor=MonitorSettings(interval_s=0.01))
    services = bootstrap(config, hasher=SecretHasher.cheapest())
    try:
        services.store.devices.save_device(Device("tag-1"))
        services.start()
        services.start()  # once only
        assert services.monitor_running
        fix = Fix("tag-1", services.clock.now() - timedelta(seconds=5), 51.75, -0.33, 10.0)
        services.ingest.accept_batch("tag-1", [fix], [])
        deadline = time.monotonic() + 10
        while services.log.count_pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert services.log.count_pending() == 0
        assert services.store.fixes.count_fixes() == 1
    finally:
        services.close()
    assert not services.monitor_running


def test_a_gateway_process_does_not_run_the_monitor(tmp_path: Path) -> None:
    config = Config(db_path=tmp_path / "t.db", run_monitor=False)
    with bootstrap(config, hasher=SecretHasher.cheapest()) as services:
        services.start()
        assert not services.monitor_running
