"""`tagwatch audit ...` and `tagwatch retention purge` on a real database file.

The tampering is done with plain sqlite3 on the file, as an intruder with access to the
server would; `tagwatch audit verify` must exit 1 and name the record.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tagwatch.cli import app
from tagwatch.service.audit import AuditContext, AuditTrail, Purpose, PurposeCode
from tagwatch.service.clock import FixedClock
from tagwatch.store import SecretHasher, SqliteStore
from tagwatch.store.audit_chain import canonical_bytes

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    """Ten records a day apart: trail reads about S-1 and S-2, and zone saves."""
    path = tmp_path / "tagwatch.db"
    store = SqliteStore(path, hasher=SecretHasher.cheapest())
    with store:
        audit = AuditTrail(store, FixedClock(T0))
        ctx = AuditContext("pc-smith", "herts-police", "10.0.0.7")
        for i in range(10):
            if i % 2:
                audit.record(ctx, "zone.save", subject_ids=["S-1"], at=T0 + timedelta(days=i))
            else:
                audit.record(
                    ctx,
                    "trail.read",
                    subject_ids=[f"S-{1 + i % 4 // 2}"],
                    purpose=Purpose(PurposeCode.INVESTIGATION, f"crime ref {i}"),
                    detail={"fixes": i * 10},
                    at=T0 + timedelta(days=i),
                )
    yield path


def tag(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def tamper(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    for statement in statements:
        conn.execute(statement)
    conn.close()


def test_verify_passes_an_intact_log(db: Path) -> None:
    code, out = tag("audit", "verify", "--db", str(db))
    assert code == 0, out
    assert out.startswith("audit log intact: 10 records, seq 1..10, head ")


def test_verify_names_an_edited_record(db: Path) -> None:
    tamper(
        db,
        "DROP TRIGGER audit_log_no_update",
        "UPDATE audit_log SET purpose_text = 'routine' WHERE seq = 7",
    )
    code, out = tag("audit", "verify", "--db", str(db))
    assert code == 1
    assert out.splitlines() == [
        "ALTERED seq 7: its content does not match its hash (a field was changed)",
        "audit log NOT intact: 1 problem(s) in 10 records",
    ]


def test_verify_names_a_deleted_record(db: Path) -> None:
    tamper(db, "DROP TRIGGER audit_log_no_delete", "DELETE FROM audit_log WHERE seq = 4")
    code, out = tag("audit", "verify", "--db", str(db))
    assert code == 1
    assert out.splitlines() == [
        "REMOVED seq 4: record missing before seq 5",
        "audit log NOT intact: 1 problem(s) in 9 records",
    ]


def test_verify_names_reordered_records(db: Path) -> None:
    tamper(
        db,
        "DROP TRIGGER audit_log_no_update",
        "UPDATE audit_log SET seq = -1 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = -1",
    )
    code, out = tag("audit", "verify", "--db", str(db))
    assert code == 1
    assert out.splitlines() == [
        "REORDERED seq 2: holds the record written as seq 3 (stored out of order)",
        "REORDERED seq 3: holds the record written as seq 2 (stored out of order)",
        "audit log NOT intact: 2 problem(s) in 10 records",
    ]


def test_verify_with_an_anchor_catches_a_rewritten_tail(db: Path) -> None:
    code, head = tag("audit", "head", "--db", str(db))
    assert code == 0
    seq, digest = head.strip().split(":")
    assert seq == "10" and len(digest) == 64
    # Rewrite the last record and re-hash it: the chain alone still adds up.
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_update")
    row = conn.execute(
        "SELECT seq, at_us, action, username, organisation_id, source, subject_ids_json,"
        " purpose_code, purpose_text, detail_json, prev_hash FROM audit_log WHERE seq = 10"
    ).fetchone()
    forged = hashlib.sha256(
        canonical_bytes(
            seq=10,
            at=datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=row[1]),
            action=row[2],
            username="someone-else",
            organisation_id=row[4],
            source=row[5],
            subject_ids=json.loads(row[6]),
            purpose_code=row[7],
            purpose_text=row[8],
            detail=json.loads(row[9]),
            prev_hash=row[10],
        )
    ).hexdigest()
    conn.execute(
        "UPDATE audit_log SET username = 'someone-else', hash = ? WHERE seq = 10", (forged,)
    )
    conn.close()
    assert tag("audit", "verify", "--db", str(db))[0] == 0  # undetectable without an anchor
    code, out = tag("audit", "verify", "--db", str(db), "--expect-head", head.strip())
    assert code == 1
    assert out.splitlines()[0] == f"ANCHOR seq 10: its hash is {forged}, not the anchored {digest}"


def test_export_jsonl_and_csv_carry_the_records_and_are_audited(db: Path, tmp_path: Path) -> None:
    code, out = tag(
        "audit", "export", "--db", str(db), "--from", "2026-11-04", "--to", "2026-11-06T12:00"
    )
    assert code == 0, out
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["seq"] for r in lines] == [3, 4, 5]
    assert lines[0]["purpose_text"] == "crime ref 2"

    target = tmp_path / "audit.csv"
    code, out = tag(
        "audit", "export", "--db", str(db), "--format", "csv", "--subject", "S-2", "-o", str(target)
    )
    assert code == 0, out
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [int(r["seq"]) for r in rows] == [3, 7]
    assert rows[0]["subject_ids"] == "S-2"

    with SqliteStore(db) as store:
        head = store.audit.head()
        assert head is not None and head.action == "audit.export"
        assert head.source == "cli"
        assert head.subject_ids == ("S-2",)
        assert head.detail["records"] == 2
        assert store.audit.verify().intact


def test_search_prints_one_line_per_record(db: Path) -> None:
    code, out = tag("audit", "search", "--db", str(db), "--action", "trail.", "--subject", "S-1")
    assert code == 0, out
    lines = out.splitlines()
    assert len(lines) == 3  # seq 1, 5, 9
    assert "pc-smith@herts-police from 10.0.0.7 S-1 [investigation: crime ref 0]" in lines[0]


def test_a_bad_instant_is_refused_with_a_reason(db: Path) -> None:
    code, out = tag("audit", "export", "--db", str(db), "--from", "last tuesday")
    assert code == 2
    assert "not an ISO 8601 date or time" in out


def test_retention_purge_prints_and_records_its_counts(db: Path) -> None:
    code, out = tag("retention", "purge", "--db", str(db))
    assert code == 0, out
    summary = json.loads(out.splitlines()[-1])
    assert summary["fixes"]["removed"] == 0
    assert summary["audit"] == {"removed": 0}  # seven years by default
    with SqliteStore(db) as store:
        head = store.audit.head()
        assert head is not None and head.action == "retention.purge"
        assert store.audit.verify().intact
