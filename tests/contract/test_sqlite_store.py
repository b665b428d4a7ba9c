"""What only the SQLite store promises: durability settings, migrations, the fix layout.

These run against SQLite only; the rest of tests/contract runs against every store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from contractkit import ST_ALBANS, T0, make_fix, minutes

from tagwatch.domain.people import Device, Subject
from tagwatch.store import SecretHasher, SqliteStore, StoreError, create_store
from tagwatch.store.records import UserRole
from tagwatch.store.sqlite.migrate import load_migrations


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "tagwatch.db"


@pytest.fixture
def sqlite_store(path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(path, hasher=SecretHasher.cheapest()) as store:
        yield store


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_the_writer_uses_wal_and_full_sync(sqlite_store: SqliteStore, path: Path) -> None:
    assert _query(path, "PRAGMA journal_mode") == [("wal",)]
    with sqlite_store.transaction():
        writer = sqlite_store.write_connection()
        assert writer.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert writer.execute("PRAGMA foreign_keys").fetchone() == (1,)


def test_the_write_connection_is_only_lent_inside_a_transaction(sqlite_store: SqliteStore) -> None:
    with pytest.raises(StoreError):
        sqlite_store.write_connection()


def test_inbox_marks_through_the_write_connection_commit_with_the_batch(
    sqlite_store: SqliteStore, path: Path
) -> None:
    with sqlite_store.transaction():
        sqlite_store.write_connection().execute("CREATE TABLE inbox_marks (n INTEGER)")
    with pytest.raises(RuntimeError), sqlite_store.transaction() as tx:
        tx.fixes.add_fixes([make_fix("tag-1", minutes(1))])
        sqlite_store.write_connection().execute("INSERT INTO inbox_marks VALUES (1)")
        raise RuntimeError("crash")
    assert _query(path, "SELECT count(*) FROM inbox_marks") == [(0,)]
    assert sqlite_store.fixes.count_fixes() == 0


def test_each_migration_is_recorded_once(path: Path) -> None:
    for _ in range(3):
        with SqliteStore(path) as store:
            assert store.schema_version() == len(load_migrations())
    rows = _query(path, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert rows == [(m.version, m.name) for m in load_migrations()]
    assert rows[0] == (1, "initial")


def test_a_migration_changed_after_it_was_applied_stops_the_store(path: Path) -> None:
    SqliteStore(path).__enter__().close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="changed after it was applied"):
        SqliteStore(path).open()


def test_a_database_newer_than_the_code_is_refused(path: Path) -> None:
    SqliteStore(path).__enter__().close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this tagwatch"):
        SqliteStore(path).open()


def test_fixes_are_kept_in_one_table_per_month(sqlite_store: SqliteStore, path: Path) -> None:
    sqlite_store.fixes.add_fixes(
        [make_fix("tag-1", t) for t in (T0, datetime(2026, 12, 31, 23, 59, tzinfo=UTC))]
        + [make_fix("tag-1", datetime(2027, 1, 1, tzinfo=UTC))]
    )
    tables = _query(
        path, "SELECT name FROM sqlite_master WHERE name LIKE 'fixes_%' AND type = 'table'"
    )
    assert sorted(t[0] for t in tables) == ["fixes_2026_11", "fixes_2026_12", "fixes_2027_01"]
    sqlite_store.fixes.drop_fixes_before(datetime(2027, 1, 1, tzinfo=UTC))
    tables = _query(
        path, "SELECT name FROM sqlite_master WHERE name LIKE 'fixes_%' AND type = 'table'"
    )
    assert [t[0] for t in tables] == ["fixes_2027_01"]


def test_a_month_table_created_in_a_failed_transaction_disappears(
    sqlite_store: SqliteStore, path: Path
) -> None:
    with pytest.raises(RuntimeError), sqlite_store.transaction() as tx:
        tx.fixes.add_fixes([make_fix("tag-1", T0)])
        raise RuntimeError("crash")
    assert _query(path, "SELECT count(*) FROM fix_partitions") == [(0,)]
    assert sqlite_store.fixes.add_fixes([make_fix("tag-1", T0)]) == 1


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (
            "slot IN (1, 2) AND cell IN (7, 8) AND fix_time_ms BETWEEN 0 AND 10",
            "_place (slot=? AND cell=? AND fix_time_ms>? AND fix_time_ms<?)",
        ),
        (
            "slot IN (1, 2) AND device_key = 4 AND fix_time_ms BETWEEN 0 AND 10",
            "_key (slot=? AND device_key=? AND fix_time_ms>? AND fix_time_ms<?)",
        ),
    ],
    ids=["proximity", "trail"],
)
def test_reads_seek_the_slot_led_indexes(
    sqlite_store: SqliteStore, path: Path, where: str, index: str
) -> None:
    sqlite_store.fixes.add_fixes([make_fix("tag-1", T0, *ST_ALBANS)])
    plan = _query(path, f"EXPLAIN QUERY PLAN SELECT * FROM fixes_2026_11 WHERE {where}")  # noqa: S608
    assert f"fixes_2026_11{index}" in str(plan)


def test_secrets_and_passwords_are_not_stored_in_plain_text(
    sqlite_store: SqliteStore, path: Path
) -> None:
    sqlite_store.subjects.save_subject(Subject("subject-1", "Alex"))
    sqlite_store.devices.save_device(Device("tag-1"))
    sqlite_store.devices.set_device_secret("tag-1", "device-secret-4711", now=T0)
    sqlite_store.users.create_user("kim", "password-0815", UserRole.ADMIN, now=T0)
    sqlite_store.close()
    raw = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.is_file())
    assert b"device-secret-4711" not in raw
    assert b"password-0815" not in raw
    assert b"$argon2id$" in raw


def test_an_in_memory_database_is_refused() -> None:
    with pytest.raises(ValueError, match="file path"):
        SqliteStore(":memory:")


def test_create_store_understands_sqlite_urls(tmp_path: Path) -> None:
    store = create_store(f"sqlite:///{tmp_path / 'x.db'}")
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "x.db"
    with pytest.raises(ValueError, match="no store"):
        create_store("mysql://localhost/tagwatch")
