"""The durable log of what arrived: an embedded SQLite inbox now, NATS JetStream later.

    log = SqliteInbox.in_store_file(store)   # bootstrap opens it
    log.append([fix_record(fix, received_at=now)])   # durable when it returns
    for record in log.pending(5000): ...
    log.mark_done(seqs)

See `tagwatch.log.contract` for the semantics every implementation keeps.
"""

from __future__ import annotations

from tagwatch.log.codec import (
    PayloadError,
    decode_record,
    event_key,
    event_record,
    fix_key,
    fix_record,
)
from tagwatch.log.contract import EVENT, FIX, InboxRecord, Log, LogError, NewRecord, RecordKind
from tagwatch.log.sqlite import SqliteInbox

__all__ = [
    "EVENT",
    "FIX",
    "InboxRecord",
    "Log",
    "LogError",
    "NewRecord",
    "PayloadError",
    "RecordKind",
    "SqliteInbox",
    "decode_record",
    "event_key",
    "event_record",
    "fix_key",
    "fix_record",
]
