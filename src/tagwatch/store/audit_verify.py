"""Walking the audit hash chain and saying exactly what is wrong with it.

Store-independent: a store hands over its records in seq order and answers three look-ups.
One pass, memory bounded by the number of problems found, not by the log's length.

What each tampering looks like, and how it is told apart:

- a field edited in place: the record's content no longer gives its hash -> ALTERED;
- edited and re-hashed (the hash column recomputed too): the record adds up, but the next
  record's prev_hash still names the old hash -> REHASHED (the edited record is named);
- deleted: its seq is missing (a gap, or the end of the log short of the highest seq ever
  issued) -> REMOVED;
- two records' seq swapped (or a record moved): its content gives its hash at *another*
  seq, found from its neighbours in the chain -> REORDERED, naming where it was written;
- a forged checkpoint (to hide deleted oldest records): the checkpoint disagrees with the
  retention.purge record that vouches for it -> CHECKPOINT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from tagwatch.store.audit_chain import (
    GENESIS_HASH,
    AuditCheckpoint,
    AuditRecord,
    ChainIssue,
    ChainReport,
    IssueKind,
    record_hash,
)

NEARBY = 8  # a moved record is also looked for this many places either side


class ChainLookup(Protocol):
    def by_hash(self, hash_: str) -> AuditRecord | None: ...
    def by_prev_hash(self, prev_hash: str) -> AuditRecord | None: ...
    def by_seq(self, seq: int) -> AuditRecord | None: ...


@dataclass(frozen=True, slots=True)
class _Seen:
    seq: int  # stored
    written: int | None  # the seq its content was hashed at; None if altered
    hash: str


def verify_chain(
    records: Iterable[AuditRecord],
    lookup: ChainLookup,
    *,
    checkpoint: AuditCheckpoint | None,
    highest_issued: int,
    purge_vouch: tuple[int, str] | None,
) -> ChainReport:
    """`records` in stored seq order; `highest_issued`: the greatest seq ever given out;
    `purge_vouch`: (through_seq, through_hash) of the newest retention.purge record that
    removed audit records, as the chain itself says."""
    issues: list[ChainIssue] = []
    start_seq = checkpoint.through_seq + 1 if checkpoint else 1
    start_hash = checkpoint.through_hash if checkpoint else GENESIS_HASH
    issues.extend(_check_checkpoint(checkpoint, purge_vouch))

    expected_seq = start_seq
    previous: _Seen | None = None
    moved: dict[int, str] = {}  # written seq -> hash, of records found out of place
    broken: set[int] = set()  # stored seqs of altered or moved records
    pending: list[tuple[AuditRecord, int]] = []  # links to check once moved ones are known
    count, first_seq, head_hash = 0, None, start_hash

    for record in records:
        count += 1
        first_seq = record.seq if first_seq is None else first_seq
        head_hash = record.hash
        if record.seq < start_seq:
            issues.append(
                ChainIssue(
                    IssueKind.CHECKPOINT,
                    record.seq,
                    f"record is older than the checkpoint (the chain starts after seq "
                    f"{start_seq - 1}): the checkpoint is not the one retention wrote",
                )
            )
        elif record.seq > expected_seq:
            missing = f"missing before seq {record.seq}"
            issues.append(_removed(expected_seq, record.seq - 1, missing))
        expected_seq = max(expected_seq, record.seq + 1)

        written: int | None = record.seq
        if record_hash(record) != record.hash:
            broken.add(record.seq)
            written = _written_seq(record, lookup, start_seq, start_hash)
            if written is None:
                issues.append(
                    ChainIssue(
                        IssueKind.ALTERED,
                        record.seq,
                        "its content does not match its hash (a field was changed)",
                    )
                )
            else:
                moved[written] = record.hash
                issues.append(
                    ChainIssue(
                        IssueKind.REORDERED,
                        record.seq,
                        f"holds the record written as seq {written} (stored out of order)",
                    )
                )
        if written is not None:
            if written == start_seq:
                if record.prev_hash != start_hash:
                    issues.append(_first_link_broken(record, checkpoint))
            elif previous is not None and previous.written == written - 1:
                if record.prev_hash != previous.hash:
                    issues.append(_rehashed(previous.seq, record.seq))
            else:
                pending.append((record, written))
        previous = _Seen(record.seq, written, record.hash)

    for record, written in pending:
        before = moved.get(written - 1)
        before_seq = written - 1
        if before is None:
            candidate = lookup.by_seq(written - 1)
            if candidate is None or candidate.seq in broken:
                continue  # removed or altered: reported already
            before, before_seq = candidate.hash, candidate.seq
        if record.prev_hash != before:
            issues.append(_rehashed(before_seq, record.seq))

    if highest_issued >= expected_seq:
        issues.append(_removed(expected_seq, highest_issued, "missing from the end of the log"))
    issues.sort(key=lambda issue: (issue.seq, issue.kind.value))
    return ChainReport(
        records=count,
        first_seq=first_seq,
        last_seq=None if count == 0 else expected_seq - 1,
        head_hash=head_hash,
        issues=tuple(issues),
    )


def _written_seq(
    record: AuditRecord, lookup: ChainLookup, start_seq: int, start_hash: str
) -> int | None:
    """The seq this record's content was hashed at, if it is intact but out of place."""
    candidates: list[int] = []
    if record.prev_hash == start_hash:
        candidates.append(start_seq)
    before = lookup.by_hash(record.prev_hash)
    if before is not None:
        candidates.append(before.seq + 1)
    after = lookup.by_prev_hash(record.hash)
    if after is not None:
        candidates.append(after.seq - 1)
    candidates.extend(record.seq + d for d in range(-NEARBY, NEARBY + 1) if d)
    for seq in dict.fromkeys(candidates):
        if seq >= 1 and seq != record.seq and record_hash(record, seq=seq) == record.hash:
            return seq
    return None


def _check_checkpoint(
    checkpoint: AuditCheckpoint | None, vouch: tuple[int, str] | None
) -> list[ChainIssue]:
    if checkpoint is None:
        if vouch is None:
            return []
        return [
            ChainIssue(
                IssueKind.CHECKPOINT,
                vouch[0],
                "a retention purge removed records up to here but its checkpoint is gone",
            )
        ]
    if vouch is None:
        return [
            ChainIssue(
                IssueKind.CHECKPOINT,
                checkpoint.through_seq,
                "the chain starts at a checkpoint no retention.purge record vouches for",
            )
        ]
    if vouch != (checkpoint.through_seq, checkpoint.through_hash):
        return [
            ChainIssue(
                IssueKind.CHECKPOINT,
                checkpoint.through_seq,
                f"the checkpoint disagrees with the last audit purge, which removed records "
                f"through seq {vouch[0]} ending in hash {vouch[1][:16]}...",
            )
        ]
    return []


def _removed(first: int, last: int, where: str) -> ChainIssue:
    noun = "record" if first == last else "records"
    return ChainIssue(IssueKind.REMOVED, first, f"{noun} {where}", last_seq=last)


def _rehashed(seq: int, next_seq: int) -> ChainIssue:
    return ChainIssue(
        IssueKind.REHASHED,
        seq,
        f"its hash is not the one record seq {next_seq} chains to: it was changed and "
        "re-hashed, or replaced",
    )


def _first_link_broken(record: AuditRecord, checkpoint: AuditCheckpoint | None) -> ChainIssue:
    origin = "the checkpoint" if checkpoint else "the start of the log"
    return ChainIssue(
        IssueKind.ALTERED,
        record.seq,
        f"its prev_hash does not chain to {origin}",
    )
