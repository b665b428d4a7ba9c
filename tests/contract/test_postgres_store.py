"""What only the PostgreSQL/PostGIS store promises: durability, migrations, daily fix
partitions, PostGIS columns and indexes, and database-enforced rules.

These run against PostgreSQL only (a fresh database per test, see conftest.py); the rest of
tests/contract runs against every store.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from contractkit import ST_ALBANS, T0, make_draft, make_episode, make_fix, minutes, seed_subject

from tagwatch.domain.people import Device, Subject
from tagwatch.domain.zones import Circle, Zone, ZoneKind
from tagwatch.service.bootstrap import bootstrap
from tagwatch.service.config import Config
from tagwatch.store import SecretHasher, StoreError, create_store
from tagwatch.store.postgres import PostgresStore
from tagwatch.store.postgres.migrate import load_migrations
from tagwatch.store.records import UserRole


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresStore]:
    with PostgresStore(postgres_url, hasher=SecretHasher.cheapest()) as store:
        yield store


def _query(url: str, query: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query, args)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def _partitions(url: str) -> list[str]:
    rows = _query(
        url,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'fixes'::regclass ORDER BY 1",
    )
    return [str(r[0]) for r in rows]


def test_commits_are_durable_before_they_return(pg: PostgresStore) -> None:
    with pg.transaction():
        pass
    settings = dict(
        _query(
            pg.url,
            "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit')",
        )
    )
    assert settings == {"fsync": "on", "synchronous_commit": "on"}


def test_each_migration_is_recorded_once(postgres_url: str) -> None:
    for _ in range(3):
        with PostgresStore(postgres_url) as store:
            assert store.schema_version() == len(load_migrations())
    rows = _query(postgres_url, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert rows == [(m.version, m.name) for m in load_migrations()]
    assert rows[0] == (1, "initial")


def test_a_migration_changed_after_it_was_applied_stops_the_store(postgres_url: str) -> None:
    _query(postgres_url, "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(StoreError, match="changed after it was applied"):
        PostgresStore(postgres_url).open()


def test_a_database_newer_than_the_code_is_refused(postgres_url: str) -> None:
    _query(postgres_url, "INSERT INTO schema_migrations VALUES (999, 'future', 'x', now())")
    with pytest.raises(StoreError, match="newer than this tagwatch"):
        PostgresStore(postgres_url).open()


def test_fixes_go_to_daily_partitions_made_ahead_and_retention_drops_them(
    pg: PostgresStore,
) -> None:
    days = [datetime(2026, 11, 5, 23, 59, tzinfo=UTC), datetime(2026, 11, 7, 0, 1, tzinfo=UTC)]
    pg.fixes.add_fixes([make_fix("tag-1", t) for t in days])
    made = set(_partitions(pg.url))
    assert {"fixes_20261105", "fixes_20261107", "fixes_20261108", "fixes_default"} <= made
    assert _query(pg.url, "SELECT count(*) FROM fixes_20261105") == [(1,)]
    assert _query(pg.url, "SELECT count(*) FROM fixes_default") == [(0,)]

    assert pg.fixes.drop_fixes_before(datetime(2026, 11, 7, 0, 1, tzinfo=UTC)) == 1
    left = set(_partitions(pg.url))
    assert "fixes_20261105" not in left
    assert "fixes_20261107" in left  # it ends after the cutoff
    assert pg.fixes.add_fixes([make_fix("tag-1", days[0])]) == 1  # a day can come back
    assert "fixes_20261105" in _partitions(pg.url)


def test_a_day_without_a_partition_waits_in_the_default_one_and_moves_later(
    pg: PostgresStore,
) -> None:
    new_day = datetime(2026, 11, 20, 12, tzinfo=UTC)
    with pg.transaction() as tx:
        tx.fixes.count_fixes()  # this transaction now holds a lock on `fixes`
        assert tx.fixes.add_fixes([make_fix("tag-1", new_day)]) == 1
    assert "fixes_20261120" not in _partitions(pg.url)
    assert _query(pg.url, "SELECT count(*) FROM fixes_default") == [(1,)]
    assert [f.fix_time for f in pg.fixes.trail(start=T0, end=new_day, device_ids=["tag-1"])] == [
        new_day
    ]

    pg.fixes.add_fixes([make_fix("tag-1", new_day + timedelta(minutes=1))])

    assert "fixes_20261120" in _partitions(pg.url)
    assert _query(pg.url, "SELECT count(*) FROM fixes_default") == [(0,)]
    assert _query(pg.url, "SELECT count(*) FROM fixes_20261120") == [(2,)]
    assert pg.fixes.add_fixes([make_fix("tag-1", new_day)]) == 0  # still a duplicate


def _plan(url: str, query: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # tiny tables: ask whether the index serves
        rows = conn.execute(f"EXPLAIN {query}").fetchall()  # type: ignore[call-overload]
    return "\n".join(str(r[0]) for r in rows)


def test_the_two_hot_reads_use_their_indexes_and_prune_partitions(pg: PostgresStore) -> None:
    pg.fixes.add_fixes(
        [make_fix("tag-1", T0 + timedelta(days=d, minutes=m)) for d in range(3) for m in (1, 2)]
    )
    window = "fix_time BETWEEN '2026-11-06 01:00+00' AND '2026-11-06 02:00+00'"
    near = _plan(
        pg.url,
        f"SELECT * FROM fixes WHERE valid AND {window} AND ST_DWithin(position,"  # noqa: S608
        " 'SRID=4326;POINT(-0.336 51.752)'::geography, 300, false)",
    )
    assert "fixes_20261106_position_fix_time_idx" in near
    assert "fixes_20261105" not in near
    assert "fixes_20261107" not in near
    trail = _plan(pg.url, f"SELECT * FROM fixes WHERE device_id = 'tag-1' AND {window}")  # noqa: S608
    assert "fixes_20261106_pkey" in trail


def test_zones_carry_their_ground_as_a_postgis_geometry(pg: PostgresStore) -> None:
    pg.subjects.save_subject(Subject("subject-1", "Alex"))
    pg.zones.save_zone(Zone("zone-1", "subject-1", ZoneKind.EXCLUSION, Circle(*ST_ALBANS, 200.0)))
    ((area, srid, inside),) = _query(
        pg.url,
        "SELECT ST_Area(area::geography), ST_SRID(area),"
        " ST_Contains(area, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) FROM zones",
        ST_ALBANS,
    )
    assert srid == 4326
    assert inside is True
    assert area == pytest.approx(math.pi * 200.0**2, rel=0.02)


def test_fix_positions_are_geography_points_readable_by_gis_tools(pg: PostgresStore) -> None:
    pg.fixes.add_fixes([make_fix("tag-1", T0, *ST_ALBANS)])
    rows = _query(pg.url, "SELECT ST_AsText(position), valid FROM fixes")
    assert rows == [(f"POINT({ST_ALBANS[0]} {ST_ALBANS[1]})", True)]


def test_the_database_refuses_overlapping_assignments_even_without_the_store(
    pg: PostgresStore,
) -> None:
    seed_subject(pg, "subject-1", "tag-1", start=T0)
    pg.subjects.save_subject(Subject("subject-2", "Sam"))
    with pytest.raises(psycopg.errors.ExclusionViolation):
        _query(
            pg.url,
            "INSERT INTO assignments VALUES ('tag-1', 'subject-2', %s, NULL)",
            (T0 + timedelta(days=1),),
        )


def test_alert_history_ids_are_handed_out_in_commit_order(pg: PostgresStore) -> None:
    seed_subject(pg)
    alerts = []
    for start in (minutes(1), minutes(2)):
        episode = make_episode(start=start)
        pg.episodes.upsert_episodes([episode])
        alerts.append(pg.alerts.upsert_alert_for_episode(make_draft(episode), now=start).alert)
    later: list[int] = []

    def append_meanwhile() -> None:
        action = pg.alert_history.append_alert_action(
            alerts[1].id, action="note", at=minutes(3), actor="kim"
        )
        later.append(action.id)

    with pg.transaction() as tx:
        first = tx.alert_history.append_alert_action(
            alerts[0].id, action="created", at=minutes(3), actor="monitor"
        )
        other = threading.Thread(target=append_meanwhile)
        other.start()
        time.sleep(0.3)
        assert later == []  # it waits for this transaction
    other.join(timeout=10)
    assert later and later[0] > first.id
    assert [a.id for a in pg.alert_history.alert_actions_after(0)] == [first.id, later[0]]


def test_secrets_and_passwords_are_stored_only_as_argon2_hashes(pg: PostgresStore) -> None:
    pg.devices.save_device(Device("tag-1"))
    pg.devices.set_device_secret("tag-1", "device-secret-4711", now=T0)
    pg.users.create_user("kim", "password-0815", UserRole.ADMIN, now=T0)
    hashes = _query(
        pg.url,
        "SELECT secret_hash FROM device_credentials UNION ALL SELECT password_hash FROM users",
    )
    assert len(hashes) == 2
    assert all(str(h[0]).startswith("$argon2id$") for h in hashes)
    assert not any("4711" in str(h[0]) or "0815" in str(h[0]) for h in hashes)


def test_create_store_understands_postgresql_urls(postgres_url: str) -> None:
    store = create_store(postgres_url)
    assert isinstance(store, PostgresStore)
    assert store.url == postgres_url
    with pytest.raises(ValueError, match="no store"):
        create_store("mysql://localhost/tagwatch")


def test_bootstrap_runs_on_a_postgresql_store_with_the_inbox_in_its_own_file(
    postgres_url: str, tmp_path: Path
) -> None:
    config = Config(db_path=tmp_path / "inbox.db", store_url=postgres_url, run_monitor=False)
    with bootstrap(config, hasher=SecretHasher.cheapest()) as services:
        assert isinstance(services.store, PostgresStore)
        assert services.log.joins_store_transaction is False
        services.store.subjects.save_subject(Subject("subject-1", "Alex"))
    assert (tmp_path / "inbox.db").exists()
    assert _query(postgres_url, "SELECT id FROM subjects") == [("subject-1",)]


def test_today_and_the_next_days_have_partitions_once_the_store_opens(pg: PostgresStore) -> None:
    today = datetime.now(UTC).date()
    made = set(_partitions(pg.url))
    for day in (today, today + timedelta(days=1), today + timedelta(days=2)):
        assert f"fixes_{day:%Y%m%d}" in made
    assert date(2026, 1, 1).strftime("fixes_%Y%m%d") not in made


def test_two_processes_making_the_same_days_partitions_take_turns(postgres_url: str) -> None:
    stores = [PostgresStore(postgres_url, hasher=SecretHasher.cheapest()) for _ in range(2)]
    for store in stores:
        store.open()
    errors: list[BaseException] = []
    start = datetime(2027, 3, 1, tzinfo=UTC)

    def write(store: PostgresStore, device: str) -> None:
        try:
            for hour in range(0, 24 * 5, 7):  # five new days, in steps that interleave
                store.fixes.add_fixes([make_fix(device, start + timedelta(hours=hour))])
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=write, args=(store, f"tag-{i}")) for i, store in enumerate(stores)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert stores[0].fixes.count_fixes() == 2 * len(range(0, 24 * 5, 7))
        assert _query(postgres_url, "SELECT count(*) FROM fixes_default") == [(0,)]
        assert {f"fixes_202703{d:02d}" for d in range(1, 6)} <= set(_partitions(postgres_url))
    finally:
        for store in stores:
            store.close()
