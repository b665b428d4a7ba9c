"""The `tagwatch audit ...` and `tagwatch retention ...` commands.

    tagwatch audit verify                 # walk the hash chain; exit 1 naming what is wrong
    tagwatch audit head                   # the newest seq and hash: write it down elsewhere
    tagwatch audit export --from 2026-11-01 --to 2026-11-30 --format csv > november.csv
    tagwatch audit search --subject S-1 --action trail.
    tagwatch retention purge              # purge what is past its retention now, audited

These open the store file directly (as an administrator on the server would); what they
search or export of the audit log is itself recorded (source "cli", the operating-system
user); verify writes nothing, so it can check a copy kept as evidence.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer

from tagwatch.api.schemas.audit import ExportFormat, csv_text, jsonl_line
from tagwatch.service.audit import AuditContext, AuditTrail
from tagwatch.service.audit_reading import query_json
from tagwatch.service.clock import SystemClock
from tagwatch.service.config import Config
from tagwatch.service.retention import Retention
from tagwatch.store import Store, create_store
from tagwatch.store.audit_chain import AuditQuery, AuditRecord, ChainReport

audit_app = typer.Typer(help="The tamper-evident audit log: verify, search, export.")
retention_app = typer.Typer(help="Retention: purge what is past its retention period.")

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="The SQLite database file (default: $TAGWATCH_DB or ./tagwatch.db)."),
]


def _config(db: Path | None) -> Config:
    config = Config.from_env()
    return config if db is None else dataclasses.replace(config, db_path=db, store_url="")


@contextmanager
def _opened(db: Path | None) -> Iterator[tuple[Config, Store, AuditTrail]]:
    config = _config(db)
    store = create_store(config.effective_store_url)
    store.open()
    try:
        yield config, store, AuditTrail(store, SystemClock())
    finally:
        store.close()


def _cli_context() -> AuditContext:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = None
    return AuditContext(username=user, organisation_id=None, source="cli")


def parse_instant(text: str) -> datetime:
    """ISO 8601; a date or a time without an offset is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 date or time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


FromOption = Annotated[
    datetime | None,
    typer.Option("--from", parser=parse_instant, help="From this instant (ISO 8601; UTC if bare)."),
]
ToOption = Annotated[
    datetime | None,
    typer.Option("--to", parser=parse_instant, help="Up to this instant, inclusive."),
]
UserOption = Annotated[str | None, typer.Option("--user", help="Only this username's records.")]
SubjectOption = Annotated[str | None, typer.Option("--subject", help="Only about this subject.")]
ActionOption = Annotated[
    str | None,
    typer.Option("--action", help="An action (trail.read), or a prefix ending in '.' (trail.)."),
]


def report_lines(report: ChainReport, anchor: tuple[bool, str] | None = None) -> list[str]:
    """One line per problem, the anchor check if any, then the verdict."""
    lines = [str(issue) for issue in report.issues]
    if anchor is not None:
        lines.append(anchor[1])
    if report.intact and (anchor is None or anchor[0]):
        span = "" if report.first_seq is None else f", seq {report.first_seq}..{report.last_seq}"
        lines.append(f"audit log intact: {report.records} records{span}, head {report.head_hash}")
    else:
        problems = len(report.issues) + (0 if anchor is None or anchor[0] else 1)
        lines.append(f"audit log NOT intact: {problems} problem(s) in {report.records} records")
    return lines


@audit_app.command("verify")
def verify_command(
    db: DbOption = None,
    expect_head: Annotated[
        str | None,
        typer.Option(
            help="SEQ:HASH written down earlier (`tagwatch audit head`): that record must "
            "still be in the chain, unchanged (catches a rewritten tail)."
        ),
    ] = None,
) -> None:
    """Walk the hash chain; name every altered, removed or reordered record (exit 1)."""
    with _opened(db) as (_, store, audit):
        report = audit.verify()
        anchor = None if expect_head is None else _check_anchor(store, expect_head)
        intact = report.intact and (anchor is None or anchor[0])
        # Verify writes nothing: it must be able to check a copy kept as evidence.
    for line in report_lines(report, anchor):
        typer.echo(line)
    if not intact:
        raise typer.Exit(1)


def _check_anchor(store: Store, text: str) -> tuple[bool, str]:
    seq_text, _, expected = text.partition(":")
    if not seq_text.isdigit() or len(expected) != 64:
        raise typer.BadParameter("--expect-head is SEQ:HASH, as `tagwatch audit head` prints it")
    seq = int(seq_text)
    page = store.audit.search(AuditQuery(), after_seq=seq - 1, limit=1)
    found = next((r for r in page.records if r.seq == seq), None)
    if found is None:
        checkpoint = store.audit.checkpoint()
        if checkpoint is not None and checkpoint.through_seq == seq:
            found_hash = checkpoint.through_hash
        elif checkpoint is not None and checkpoint.through_seq > seq:
            return True, f"ANCHOR seq {seq}: purged by retention since (not checkable)"
        else:
            return False, f"ANCHOR seq {seq}: the anchored record is missing"
    else:
        found_hash = found.hash
    if found_hash != expected:
        return False, f"ANCHOR seq {seq}: its hash is {found_hash}, not the anchored {expected}"
    return True, f"anchor seq {seq} matches"


@audit_app.command("head")
def head_command(db: DbOption = None) -> None:
    """Print SEQ:HASH of the newest record: keep it outside tagwatch to anchor the chain."""
    with _opened(db) as (_, store, _audit):
        head = store.audit.head()
        checkpoint = store.audit.checkpoint()
    if head is not None:
        typer.echo(f"{head.seq}:{head.hash}")
    elif checkpoint is not None:
        typer.echo(f"{checkpoint.through_seq}:{checkpoint.through_hash}")
    else:
        typer.echo("0:" + "0" * 64)


@audit_app.command("export")
def export_command(
    start: FromOption = None,
    end: ToOption = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="jsonl or csv.")] = (
        ExportFormat.JSONL
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="A file (default: standard output).")
    ] = None,
    user: UserOption = None,
    subject: SubjectOption = None,
    action: ActionOption = None,
    db: DbOption = None,
) -> None:
    """Every record in the range, in seq order, with its hashes (recomputable elsewhere)."""
    query = AuditQuery(username=user, subject_id=subject, action=action, start=start, end=end)
    with _opened(db) as (_, _store, audit):
        records = audit.export(query)
        if output is None:
            count = write_records(records, sys.stdout, fmt)
        else:
            with output.open("w", encoding="utf-8", newline="") as out:
                count = write_records(records, out, fmt)
        audit.record(
            _cli_context(),
            "audit.export",
            subject_ids=[subject] if subject else (),
            detail={"query": query_json(query), "records": count, "format": fmt.value},
        )
    if output is not None:
        typer.echo(f"{count} records written to {output}")


def write_records(records: Iterable[AuditRecord], out: TextIO, fmt: ExportFormat) -> int:
    count = 0
    if fmt is ExportFormat.CSV:
        out.write(csv_text((), header=True))
        for record in records:
            out.write(csv_text((record,), header=False))
            count += 1
    else:
        for record in records:
            out.write(jsonl_line(record))
            count += 1
    return count


@audit_app.command("search")
def search_command(
    start: FromOption = None,
    end: ToOption = None,
    user: UserOption = None,
    subject: SubjectOption = None,
    action: ActionOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    db: DbOption = None,
) -> None:
    """One line per matching record: seq, time, who, what, about whom, why."""
    query = AuditQuery(username=user, subject_id=subject, action=action, start=start, end=end)
    with _opened(db) as (_, _store, audit):
        page = audit.search(query, limit=limit)
        audit.record(
            _cli_context(),
            "audit.search",
            subject_ids=[subject] if subject else (),
            detail={"query": query_json(query), "records": len(page.records)},
        )
    for record in page.records:
        why = f" [{record.purpose_code}: {record.purpose_text}]" if record.purpose_code else ""
        who = f"{record.username or '-'}@{record.organisation_id or '-'} from {record.source}"
        about = ",".join(record.subject_ids) or "-"
        typer.echo(
            f"{record.seq:>8} {record.at.isoformat()} {record.action:<20} {who} {about}{why}"
        )
    if page.next_after_seq is not None:
        typer.echo(f"... more after seq {page.next_after_seq} (narrow the search)")


@retention_app.command("purge")
def purge_command(db: DbOption = None) -> None:
    """Purge every data class past its retention now (legal holds kept); print a JSON summary."""
    with _opened(db) as (config, store, audit):
        report = Retention(store, audit, SystemClock(), config.retention).purge(_cli_context())
    typer.echo(json.dumps({"at": report.at.isoformat(), **report.record.detail}, sort_keys=True))
