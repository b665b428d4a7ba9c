"""The hash-chain walk on records in memory: properties over random chains and tamperings,
and the audit trail's own checks (actions, purposes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagwatch.service.audit import (
    AuditContext,
    Purpose,
    PurposeCode,
    PurposeRequired,
    require_purpose,
)
from tagwatch.store.audit_chain import (
    GENESIS_HASH,
    AuditCheckpoint,
    AuditEntry,
    AuditRecord,
    IssueKind,
    entry_hash,
    record_hash,
)
from tagwatch.store.audit_verify import verify_chain

T0 = datetime(2026, 11, 5, 20, 0, tzinfo=UTC)


def chain(count: int, *, start_seq: int = 1, prev: str = GENESIS_HASH) -> list[AuditRecord]:
    records = []
    for i in range(count):
        seq = start_seq + i
        entry = AuditEntry(
            at=T0 + timedelta(seconds=seq),
            action="trail.read",
            username=f"u{seq % 3}",
            subject_ids=(f"S-{seq % 4}",),
            detail={"n": seq},
        )
        digest = entry_hash(entry, seq=seq, prev_hash=prev)
        records.append(
            AuditRecord(
                seq=seq,
                at=entry.at,
                action=entry.action,
                username=entry.username,
                organisation_id=None,
                source=None,
                subject_ids=entry.subject_ids,
                purpose_code=None,
                purpose_text=None,
                detail=entry.detail,
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    return records


class Lookup:
    def __init__(self, records: Sequence[AuditRecord]) -> None:
        self._records = list(records)

    def by_hash(self, hash_: str) -> AuditRecord | None:
        return next((r for r in self._records if r.hash == hash_), None)

    def by_prev_hash(self, prev_hash: str) -> AuditRecord | None:
        return next((r for r in self._records if r.prev_hash == prev_hash), None)

    def by_seq(self, seq: int) -> AuditRecord | None:
        return next((r for r in self._records if r.seq == seq), None)


def verify(
    records: Sequence[AuditRecord],
    *,
    highest: int | None = None,
    checkpoint: AuditCheckpoint | None = None,
    vouch: tuple[int, str] | None = None,
) -> list[tuple[IssueKind, int]]:
    stored = sorted(records, key=lambda r: r.seq)
    report = verify_chain(
        stored,
        Lookup(stored),
        checkpoint=checkpoint,
        highest_issued=highest if highest is not None else max((r.seq for r in stored), default=0),
        purge_vouch=vouch,
    )
    return [(issue.kind, issue.seq) for issue in report.issues]


@given(st.integers(min_value=0, max_value=40))
def test_an_untouched_chain_of_any_length_is_intact(count: int) -> None:
    assert verify(chain(count)) == []


@given(st.data())
def test_any_edited_record_is_named(data: st.DataObject) -> None:
    records = chain(data.draw(st.integers(min_value=1, max_value=30)))
    index = data.draw(st.integers(min_value=0, max_value=len(records) - 1))
    field = data.draw(st.sampled_from(["username", "action", "detail", "at", "subject_ids"]))
    changes: dict[str, object] = {
        "username": {"username": "someone-else"},
        "action": {"action": "zone.save"},
        "detail": {"detail": {"n": -1}},
        "at": {"at": records[index].at + timedelta(microseconds=1)},
        "subject_ids": {"subject_ids": ("S-99",)},
    }[field]  # type: ignore[assignment]
    records[index] = replace(records[index], **changes)  # type: ignore[arg-type]
    assert verify(records) == [(IssueKind.ALTERED, index + 1)]


@given(st.data())
def test_any_run_of_deleted_records_is_named(data: st.DataObject) -> None:
    count = data.draw(st.integers(min_value=2, max_value=30))
    records = chain(count)
    first = data.draw(st.integers(min_value=1, max_value=count))
    last = data.draw(st.integers(min_value=first, max_value=count))
    kept = [r for r in records if not first <= r.seq <= last]
    report = verify_chain(
        kept, Lookup(kept), checkpoint=None, highest_issued=count, purge_vouch=None
    )
    assert [(i.kind, i.seq, i.last_seq) for i in report.issues] == [
        (IssueKind.REMOVED, first, last)
    ]


@given(st.data())
def test_any_two_swapped_records_are_named(data: st.DataObject) -> None:
    count = data.draw(st.integers(min_value=2, max_value=30))
    records = chain(count)
    a = data.draw(st.integers(min_value=1, max_value=count - 1))
    b = data.draw(st.integers(min_value=a + 1, max_value=count))
    swapped = [
        replace(r, seq=b) if r.seq == a else replace(r, seq=a) if r.seq == b else r for r in records
    ]
    assert verify(swapped) == [(IssueKind.REORDERED, a), (IssueKind.REORDERED, b)]


@given(st.data())
def test_an_edit_with_a_recomputed_hash_names_the_edited_record(data: st.DataObject) -> None:
    count = data.draw(st.integers(min_value=2, max_value=30))
    records = chain(count)
    index = data.draw(st.integers(min_value=0, max_value=count - 2))  # not the last
    edited = replace(records[index], username="forger")
    records[index] = replace(edited, hash=record_hash(edited))
    assert verify(records) == [(IssueKind.REHASHED, index + 1)]


def test_a_chain_after_a_checkpoint_starts_from_it() -> None:
    head = chain(5)
    tail = chain(3, start_seq=6, prev=head[-1].hash)
    checkpoint = AuditCheckpoint(5, head[-1].hash, T0)
    assert verify(tail, checkpoint=checkpoint, vouch=(5, head[-1].hash)) == []
    # The same tail with the checkpoint but nothing in the chain vouching for it.
    assert verify(tail, checkpoint=checkpoint) == [(IssueKind.CHECKPOINT, 5)]
    # A checkpoint that disagrees with the purge record.
    assert verify(tail, checkpoint=checkpoint, vouch=(4, head[-2].hash)) == [
        (IssueKind.CHECKPOINT, 5)
    ]
    # The first record after the checkpoint removed.
    assert verify(tail[1:], checkpoint=checkpoint, vouch=(5, head[-1].hash), highest=8) == [
        (IssueKind.REMOVED, 6)
    ]


def test_a_record_that_does_not_chain_to_the_checkpoint_is_named() -> None:
    head = chain(5)
    tail = chain(3, start_seq=6, prev=head[-1].hash)
    checkpoint = AuditCheckpoint(5, head[-2].hash, T0)  # a forged starting point
    issues = verify(tail, checkpoint=checkpoint, vouch=(5, head[-2].hash))
    assert issues == [(IssueKind.ALTERED, 6)]


# -- the trail's checks ---------------------------------------------------------------------


@pytest.mark.parametrize("action", ["trail.read", "export.read", "search.near"])
def test_reads_of_history_need_a_stated_purpose(action: str) -> None:
    with pytest.raises(PurposeRequired, match="needs a stated purpose"):
        require_purpose(action, None)
    with pytest.raises(PurposeRequired):
        require_purpose(action, Purpose(PurposeCode.INVESTIGATION, "   "))
    require_purpose(action, Purpose(PurposeCode.INVESTIGATION, "crime ref 1"))


def test_other_actions_need_no_purpose() -> None:
    require_purpose("zone.save", None)
    require_purpose("position.read", None)


@pytest.mark.parametrize("action", ["", "trail", "Trail.Read", "trail..read", "trail.read ", "1.x"])
def test_malformed_actions_are_refused(action: str) -> None:
    with pytest.raises(ValueError, match="dotted lower-case"):
        require_purpose(action, None)


def test_a_purpose_code_must_be_known_and_its_text_is_trimmed() -> None:
    with pytest.raises(ValueError):
        Purpose("curiosity", "x")  # type: ignore[arg-type]
    assert Purpose("safeguarding", "  ref  ") == Purpose(  # type: ignore[arg-type]
        PurposeCode.SAFEGUARDING, "ref"
    )
    with pytest.raises(ValueError, match="at most"):
        Purpose(PurposeCode.OTHER, "x" * 2001)


def test_the_system_context_names_its_source() -> None:
    assert AuditContext.system("monitor") == AuditContext(None, None, "monitor")
