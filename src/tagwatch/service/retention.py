"""Retention: personal data is kept only as long as configured, then purged; legal holds win.

One purge removes, per data class (tagwatch.service.config.RetentionSettings):

- resolved alerts last updated more than `alerts_days` ago, with their history and episode
  (unresolved alerts are never purged: someone still has to act on them); their holds go
  with them;
- fixes older than `fixes_days`, by whole monthly partitions where no legal hold reaches
  into the month (tagwatch.store.sqlite.retention), the held fixes kept otherwise;
- device events older than `device_events_days`;
- audit records older than `audit_days`, leaving a checkpoint the chain starts from.

All of it, and the audit record of the purge ("retention.purge", counts per class, the
cutoffs, and the audit checkpoint it left), is one transaction: a purge is never done
without its record, and the record never claims a purge that did not happen.

The server runs a purge every `interval_s` (first one interval after start) in a thread of
its own; `tagwatch retention purge` runs one now.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from tagwatch.service.audit import AuditContext, AuditTrail
from tagwatch.service.clock import Clock
from tagwatch.service.config import RetentionSettings
from tagwatch.store.audit_chain import AuditCheckpoint, AuditRecord
from tagwatch.store.contract import Store
from tagwatch.store.holds import FixPurge

log = logging.getLogger(__name__)

PURGE_ACTION = "retention.purge"


@dataclass(frozen=True, slots=True)
class PurgeReport:
    at: datetime
    fixes: FixPurge
    device_events: int
    alerts: int
    audit_removed: int
    audit_checkpoint: AuditCheckpoint | None
    record: AuditRecord  # the purge's own audit record


def _cutoff(now: datetime, days: float) -> datetime | None:
    return None if days <= 0 else now - timedelta(days=days)


class Retention:
    def __init__(
        self, store: Store, audit: AuditTrail, clock: Clock, settings: RetentionSettings
    ) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def purge(self, ctx: AuditContext | None = None) -> PurgeReport:
        """Purge every data class now, and record it; `ctx` says who asked (default: the
        scheduler, source "retention")."""
        ctx = ctx if ctx is not None else AuditContext.system("retention")
        now = self._clock.now()
        settings = self.settings
        fixes_cut = _cutoff(now, settings.fixes_days)
        events_cut = _cutoff(now, settings.device_events_days)
        alerts_cut = _cutoff(now, settings.alerts_days)
        audit_cut = _cutoff(now, settings.audit_days)
        with self._store.transaction() as tx:
            alerts = events = 0
            if alerts_cut is not None:  # first: the holds of purged alerts lapse with them
                alerts = tx.retention.purge_alerts_before(alerts_cut, now=now)
            fixes = FixPurge(0, 0, 0, 0)
            if fixes_cut is not None:
                spans = tx.holds.held_fix_spans(now)
                fixes = tx.retention.purge_fixes_before(fixes_cut, keep=spans)
            if events_cut is not None:
                events = tx.retention.purge_device_events_before(events_cut)
            before = tx.audit.checkpoint()
            checkpoint = None if audit_cut is None else tx.audit.purge_before(audit_cut, now=now)
            audit_removed = 0
            if checkpoint is not None:
                audit_removed = checkpoint.through_seq - (before.through_seq if before else 0)
            detail: dict[str, object] = {
                "cutoffs": {
                    "fixes": _iso(fixes_cut),
                    "device_events": _iso(events_cut),
                    "alerts": _iso(alerts_cut),
                    "audit": _iso(audit_cut),
                },
                "fixes": {
                    "removed": fixes.removed,
                    "months_dropped": fixes.months_dropped,
                    "months_trimmed": fixes.months_trimmed,
                    "kept_by_holds": fixes.kept_by_holds,
                },
                "device_events": {"removed": events},
                "alerts": {"removed": alerts},
                "audit": {"removed": audit_removed},
            }
            if checkpoint is not None:
                # The chain vouches for its own new starting point (audit_verify checks it).
                detail["audit"] = {
                    "removed": audit_removed,
                    "through_seq": checkpoint.through_seq,
                    "through_hash": checkpoint.through_hash,
                }
            record = self._audit.record(ctx, PURGE_ACTION, detail=detail, at=now)
        # The head hash in the application log is an anchor kept outside the database:
        # `tagwatch audit verify --expect-head SEQ:HASH` then catches a rewritten tail.
        log.info(
            "retention purge: %d fixes (%d months dropped), %d device events, %d alerts, "
            "%d audit records; audit head %d:%s",
            fixes.removed,
            fixes.months_dropped,
            events,
            alerts,
            audit_removed,
            record.seq,
            record.hash,
        )
        return PurgeReport(now, fixes, events, alerts, audit_removed, checkpoint, record)

    # -- the schedule --------------------------------------------------------------------

    def start(self) -> None:
        """Purge every `interval_s` in a background thread (not if it is 0; once)."""
        if self._thread is not None or self.settings.interval_s <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.settings.interval_s):
            try:
                self.purge()
            except Exception:  # a failed purge is retried next time; the server goes on
                log.exception("retention purge failed")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
