"""The audit log's hash chain: appends, search, and tampering found directly in the database.

The tampering tests open the SQLite file with plain sqlite3, as someone with access to the
file would, drop the append-only triggers where needed, and change history behind the
store's back; verify must then name exactly the record concerned.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagwatch.store import SecretHasher, SqliteStore, Store
from tagwatch.store.audit_chain import (
    GENESIS_HASH,
    AuditEntry,
    AuditQuery,
    IssueKind,
    iso,
    record_hash,
)

T0 = datetime(2026, 11, 5, 20, 0, tzinfo=UTC)


def entry(i: int, **overrides: object) -> AuditEntry:
    values: dict[str, object] = {
        "at": T0 + timedelta(minutes=i),
        "action": "trail.read",
        "username": f"user{i % 3}",
        "organisation_id": "herts-police",
        "source": "10.0.0.7",
        "subject_ids": (f"S-{i % 2}",),
        "purpose_code": "investigation",
        "purpose_text": f"case {i}",
        "detail": {"i": i, "range": ["2026-11-01", "2026-11-02"]},
    }
    values.update(overrides)
    return AuditEntry(**values)  # type: ignore[arg-type]


def fill(store: Store, count: int) -> None:
    for i in range(1, count + 1):
        store.audit.append(entry(i))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    """Tampering goes behind the store's back, into its file: SQLite's own."""
    opened = SqliteStore(tmp_path / "tagwatch.db", hasher=SecretHasher.cheapest())
    opened.open()
    try:
        yield opened
    finally:
        opened.close()


def raw(store: SqliteStore) -> sqlite3.Connection:
    return sqlite3.connect(store.path, isolation_level=None)


def kinds_and_seqs(store: Store) -> list[tuple[IssueKind, int, int | None]]:
    return [(i.kind, i.seq, i.last_seq) for i in store.audit.verify().issues]


def test_records_chain_from_genesis_and_the_hash_is_recomputable_without_tagwatch(
    store: Store,
) -> None:
    first = store.audit.append(entry(1))
    second = store.audit.append(entry(2))
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    # The documented encoding, by hand.
    fields = {
        "seq": 1,
        "at": "2026-11-05T20:01:00.000000Z",
        "action": "trail.read",
        "username": "user1",
        "organisation_id": "herts-police",
        "source": "10.0.0.7",
        "subject_ids": ["S-1"],
        "purpose_code": "investigation",
        "purpose_text": "case 1",
        "detail": {"i": 1, "range": ["2026-11-01", "2026-11-02"]},
        "prev_hash": GENESIS_HASH,
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert first.hash == hashlib.sha256(text.encode()).hexdigest()
    assert iso(first.at) == fields["at"]


def test_an_intact_log_verifies(store: Store) -> None:
    fill(store, 20)
    report = store.audit.verify()
    assert report.intact
    assert (report.records, report.first_seq, report.last_seq) == (20, 1, 20)
    head = store.audit.head()
    assert head is not None
    assert report.head_hash == head.hash


def test_an_empty_log_verifies(store: Store) -> None:
    report = store.audit.verify()
    assert report.intact
    assert report.records == 0
    assert report.head_hash == GENESIS_HASH


def test_triggers_refuse_update_and_delete(sqlite_store: SqliteStore) -> None:
    fill(sqlite_store, 3)
    conn = raw(sqlite_store)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET username = 'someone' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 2")
    conn.close()
    assert sqlite_store.audit.verify().intact


def test_verify_names_a_record_edited_in_place(sqlite_store: SqliteStore) -> None:
    fill(sqlite_store, 10)
    conn = raw(sqlite_store)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET purpose_text = 'nothing to see' WHERE seq = 4")
    conn.close()
    assert kinds_and_seqs(sqlite_store) == [(IssueKind.ALTERED, 4, None)]
    assert str(sqlite_store.audit.verify().issues[0]).startswith("ALTERED seq 4:")


def test_verify_names_a_record_edited_and_rehashed(sqlite_store: SqliteStore) -> None:
    fill(sqlite_store, 10)
    conn = raw(sqlite_store)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET username = 'nobody' WHERE seq = 6")
    record = next(r for r in sqlite_store.audit.search(AuditQuery()).records if r.seq == 6)
    conn.execute("UPDATE audit_log SET hash = ? WHERE seq = 6", (record_hash(record),))
    conn.close()
    assert kinds_and_seqs(sqlite_store) == [(IssueKind.REHASHED, 6, None)]


def test_verify_names_a_deleted_record(sqlite_store: SqliteStore) -> None:
    fill(sqlite_store, 10)
    conn = raw(sqlite_store)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq = 5")
    conn.close()
    assert kinds_and_seqs(sqlite_store) == [(IssueKind.REMOVED, 5, 5)]


def test_verify_names_a_run_of_deleted_records(sqlite_store: SqliteStore) -> None:
    fill(sqlite_store, 10)
    conn = raw(sqlite_store)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq BETWEEN 3 AND 6")
    conn.close()
    assert kinds_and_seqs(sqlite_store) == [(IssueKind.REMOVED, 3, 6)]


def test_verify_names_records_deleted_from_the_end(sqlite_store: SqliteStore) -> None:
    fill(sqlite_store, 10)
    conn = raw(sqlite_store)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq >= 9")
    conn.close()
    assert kinds_and_seqs(sqlite_store) == [(IssueKind.REMOVED, 9, 10)]


def test_verify_names_the_first_record_deleted(sqlite_store: SqliteStore) -> None:
    fill(sqlite_store, 4)
    conn = raw(sqlite_store)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq = 1")
    conn.close()
    assert kinds_and_seqs(sqlite_store) == [(IssueKind.REMOVED, 1, 1)]


def swap(conn: sqlite3.Connection, a: int, b: int) -> None:
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = ?", (a,))
    conn.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", (a, b))
    conn.execute("UPDATE audit_log SET seq = ? WHERE seq = -1", (b,))


def test_verify_names_two_records_swapped(sqlite_store: SqliteStore) -> None:
    fill(sqlite_store, 10)
    conn = raw(sqlite_store)
    swap(conn, 3, 4)
    conn.close()
    report = sqlite_store.audit.verify()
    assert [(i.kind, i.seq) for i in report.issues] == [
        (IssueKind.REORDERED, 3),
        (IssueKind.REORDERED, 4),
    ]
    assert "written as seq 4" in report.issues[0].message
    assert "written as seq 3" in report.issues[1].message


def test_verify_names_distant_records_swapped(sqlite_store: SqliteStore) -> None:
    fill(sqlite_store, 60)
    conn = raw(sqlite_store)
    swap(conn, 2, 50)
    conn.close()
    report = sqlite_store.audit.verify()
    assert [(i.kind, i.seq) for i in report.issues] == [
        (IssueKind.REORDERED, 2),
        (IssueKind.REORDERED, 50),
    ]


def test_verify_names_swapped_last_records(sqlite_store: SqliteStore) -> None:
    fill(sqlite_store, 5)
    conn = raw(sqlite_store)
    swap(conn, 4, 5)
    conn.close()
    assert [(i.kind, i.seq) for i in sqlite_store.audit.verify().issues] == [
        (IssueKind.REORDERED, 4),
        (IssueKind.REORDERED, 5),
    ]


def test_appending_after_tampering_keeps_reporting_it(sqlite_store: SqliteStore) -> None:
    fill(sqlite_store, 5)
    conn = raw(sqlite_store)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE seq = 5")
    conn.close()
    sqlite_store.audit.append(entry(6))
    assert kinds_and_seqs(sqlite_store) == [(IssueKind.REMOVED, 5, 5)]


def test_concurrent_appends_keep_the_chain_linear(store: Store) -> None:
    def work(worker: int) -> None:
        for i in range(25):
            store.audit.append(entry(i, username=f"w{worker}"))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = store.audit.verify()
    assert report.intact
    assert report.records == 100


def test_concurrent_appends_from_two_processes_keep_the_chain_linear(
    sqlite_store: SqliteStore, tmp_path: Path
) -> None:
    other = SqliteStore(sqlite_store.path, hasher=SecretHasher.cheapest())
    other.open()
    try:

        def work(target: Store, name: str) -> None:
            for i in range(30):
                target.audit.append(entry(i, username=name))

        threads = [
            threading.Thread(target=work, args=(sqlite_store, "a")),
            threading.Thread(target=work, args=(other, "b")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()
    report = sqlite_store.audit.verify()
    assert report.intact
    assert report.records == 60


def test_search_filters_and_pages(store: Store) -> None:
    fill(store, 30)
    store.audit.append(entry(31, action="zone.save", subject_ids=("S-9",), purpose_code=None))
    by_user = store.audit.search(AuditQuery(username="user1"), limit=100).records
    assert [r.seq for r in by_user] == list(range(1, 32, 3))
    by_subject = store.audit.search(AuditQuery(subject_id="S-9")).records
    assert [r.action for r in by_subject] == ["zone.save"]
    by_prefix = store.audit.search(AuditQuery(action="zone.")).records
    assert [r.seq for r in by_prefix] == [31]
    in_range = store.audit.search(
        AuditQuery(start=T0 + timedelta(minutes=5), end=T0 + timedelta(minutes=7))
    ).records
    assert [r.seq for r in in_range] == [5, 6, 7]
    pages, after = [], 0
    while True:
        page = store.audit.search(AuditQuery(), after_seq=after, limit=7)
        pages.append([r.seq for r in page.records])
        if page.next_after_seq is None:
            break
        after = page.next_after_seq
    assert [seq for page_seqs in pages for seq in page_seqs] == list(range(1, 32))
    assert len(pages) == 5


def test_detail_that_json_cannot_hold_is_refused_before_anything_is_written(
    store: Store,
) -> None:
    with pytest.raises(TypeError):
        store.audit.append(entry(1, detail={"when": T0}))
    assert store.audit.head() is None


def test_an_audit_record_rolls_back_with_its_transaction(store: Store) -> None:
    store.audit.append(entry(1))
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.audit.append(entry(2))
        raise RuntimeError("the change failed")
    store.audit.append(entry(3))
    report = store.audit.verify()
    assert report.intact
    assert report.last_seq == 2
