"""The monitor: drain the log, judge with the engine, commit, acknowledge, tell the feed.

One step (`run_once`):

1. **read** up to `batch_size` pending log records, in order, and decode them (a record
   that does not decode is refused by name and marked done, so it cannot stall the log;
   one appended in this process comes with the Fix it was made from, `decoded`);
2. **evaluate** them with the engine at `now` (also with no records: silence, ended
   schedules and appointments are judged by the clock);
3. **commit**, in ONE store transaction: the fixes and device events (idempotent), the
   episodes, one alert per episode with its history (tagwatch.service.alerts), and - when
   the log joins store transactions (the embedded inbox) - the records' done marks;
4. **acknowledge** the log after the commit when it does not join the transaction;
5. **publish** the alerts written and each device's newest position on the bus.

The engine state is replaced only after the commit succeeded, so a failed step is simply
retried with the same records. A crash anywhere replays from the log; fixes are unique by
(device, ms), episodes by id and alerts one per episode, so nothing is lost or doubled.
A store failure is never a reason to drop records: the monitor retries and the pending
count grows where an operator can see it.

**Start-up and rule changes.** The engine state is not persisted: it is rebuilt by
replaying the stored fixes and device events of the lateness window through a fresh
engine (events discarded: their effects are in the store already), then reconciled with
the store's open episodes (`_reconcile`): an open episode that started before the window
continues under its stored id (the rebuilt engine saw only its later part), an open
episode the engine finds but the store lacks is raised now, and a stored open episode
whose requirement or assignment is gone is closed. The rule book is compared with the
stored one every `rules_check_s` seconds, or at once after `notify_rules_changed()`; a
different book is recompiled and the state rebuilt the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tagwatch.domain.episodes import (
    LOCATION_RULES,
    ApproachWarning,
    AttendanceOutcome,
    EngineEvent,
    Episode,
    EpisodeChange,
    EpisodeEvent,
    FixBeyondLateness,
    RuleKind,
)
from tagwatch.domain.people import RiskLevel
from tagwatch.domain.positions import DeviceEvent, Fix
from tagwatch.domain.rules import RuleBook, SubjectRules
from tagwatch.engine import CompiledRules, EngineState, compile_rules, evaluate
from tagwatch.log.codec import PayloadError, decode_record
from tagwatch.log.contract import DeviceScope, InboxRecord, Log
from tagwatch.service.alerts import MonitorAlerts, continued
from tagwatch.service.bus import (
    Bus,
    Message,
    alert_message,
    attendance_message,
    position_message,
)
from tagwatch.service.clock import Clock
from tagwatch.service.config import MonitorSettings
from tagwatch.store.contract import Store, UnitOfWork
from tagwatch.store.records import Alert

logger = logging.getLogger(__name__)

DEVICES_PER_QUERY = 500
GATHER_S = 0.05  # after a wake-up by notify_appended, before stepping
FUTURE_SLACK = timedelta(days=1)  # a rebuild also replays fixes a wrong device clock dated ahead
HEALTH_RULES = tuple(rule for rule in RuleKind if rule not in LOCATION_RULES)
CLOSED_UNMONITORED = "closed by the monitor: its requirement or assignment is no longer in force"
EpisodeKey = tuple[str, RuleKind, str]


@dataclass(slots=True)
class MonitorStats:
    steps: int = 0
    records: int = 0
    refused_records: int = 0  # payloads that did not decode
    fixes_new: int = 0
    device_events_new: int = 0
    engine_events: int = 0
    beyond_lateness: int = 0  # fixes older than the lateness window: stored, not judged
    alerts_written: int = 0
    rebuilds: int = 0
    failures: int = 0
    last_step_at: datetime | None = None
    last_rebuild_s: float = 0.0


@dataclass(slots=True)
class _Step:
    """What one step did, counted once its transaction has committed."""

    fixes_new: int = 0
    events_new: int = 0
    beyond_lateness: int = 0
    alerts: int = 0
    messages: list[Message] = field(default_factory=list)


class Monitor:
    def __init__(
        self,
        store: Store,
        log: Log,
        bus: Bus,
        clock: Clock,
        settings: MonitorSettings | None = None,
    ) -> None:
        self._store = store
        self._log = log
        self._bus = bus
        self._clock = clock
        self.settings = settings if settings is not None else MonitorSettings()
        self._step_lock = threading.Lock()
        self._reload = threading.Event()
        self._appended = threading.Event()
        self._book: RuleBook | None = None
        self._scope: DeviceScope | None = None  # the devices judged (a partitioned log's)
        self._rules: CompiledRules | None = None
        self._state: EngineState | None = None
        self._subject_of: dict[str, str] = {}
        # Episode ids of the rebuilt engine -> the stored episodes they continue.
        self._aliases: dict[str, Episode] = {}
        self._shown: dict[str, datetime] = {}  # newest fix time published per device
        self._rules_checked = -float("inf")
        self._pruned = time.monotonic()
        self._stats = MonitorStats()
        self._stats_lock = threading.Lock()  # not the step lock: metrics never wait for a step

    # -- control -------------------------------------------------------------------------

    def notify_rules_changed(self) -> None:
        """What the engine checks may have changed: compare the rule book at the next step.

        Thread-safe; give it to the admin service as its `on_rules_changed`.
        """
        self._reload.set()

    def stats(self) -> MonitorStats:
        """A copy of the counters (for metrics and the admin API)."""
        with self._stats_lock:
            return replace(self._stats)

    @property
    def engine_state(self) -> EngineState | None:
        return self._state

    def run_forever(self, stop: threading.Event, interval_s: float | None = None) -> None:
        """Step until `stop` is set; pause `interval_s` when the log had nothing more."""
        interval = self.settings.interval_s if interval_s is None else interval_s
        while not stop.is_set():
            try:
                handled = self.run_once()
            except Exception:
                logger.exception("monitor step failed; records stay pending and are retried")
                with self._stats_lock:
                    self._stats.failures += 1
                stop.wait(max(interval, 1.0))
                continue
            if handled < self.settings.batch_size:
                self._pause(stop, interval)

    def notify_appended(self) -> None:
        """Records were appended in this process: step soon, not after the whole pause.

        Thread-safe; bootstrap gives it to Ingest. Without it a breach waits for the pause
        to end (up to `interval_s`) before the engine sees it.
        """
        self._appended.set()

    def _pause(self, stop: threading.Event, interval: float) -> None:
        if self._appended.wait(interval) and not stop.is_set():
            stop.wait(GATHER_S)  # let a burst of requests land, to judge it in one step
        self._appended.clear()

    def run_once(self, now: datetime | None = None) -> int:
        """One step at `now` (the clock's if None); returns how many log records it took."""
        with self._step_lock:
            now = now if now is not None else self._clock.now()
            rules, state = self._current_rules(now)
            records = self._log.pending(self.settings.batch_size)
            if records and self._log.device_scope() != self._scope:
                return 0  # partitions moved meanwhile: rebuild first, at the next step
            fixes, events, refused = _decode(records)
            new_state, engine_events = evaluate(rules, state, fixes, events, now)
            seqs = [record.seq for record in records]
            aliases = dict(self._aliases)
            step = _Step()
            if records or engine_events:
                with self._store.transaction() as tx:
                    step.fixes_new = tx.fixes.add_fixes(fixes) if fixes else 0
                    if events:
                        step.events_new = tx.device_events.add_device_events(events)
                    writer = MonitorAlerts(tx, now, _risk_lookup(tx))
                    self._apply(writer, engine_events, aliases, step)
                    if self._log.joins_store_transaction:
                        self._log.mark_done(seqs)
                if not self._log.joins_store_transaction:
                    self._log.mark_done(seqs)
                step.messages[:0] = [alert_message(a) for a in writer.touched.values()]
                step.alerts = len(writer.touched)
            self._state, self._aliases = new_state, aliases
            if aliases:
                self._forget_finished_aliases()
            step.messages += self._positions(fixes)
            self._count(now, len(records), refused, len(engine_events), step)
        self._bus.publish_many(step.messages)
        self._prune(now)
        return len(records)

    # -- one step ------------------------------------------------------------------------

    def _apply(
        self,
        writer: MonitorAlerts,
        events: list[EngineEvent],
        aliases: dict[str, Episode],
        step: _Step,
    ) -> None:
        """Write the engine's events; bus messages that are not alerts go to `step`."""
        for event in events:
            if isinstance(event, EpisodeEvent):
                writer.mapped_episode_event(event, aliases)
            elif isinstance(event, ApproachWarning):
                writer.approach(event)
            elif isinstance(event, AttendanceOutcome):
                step.messages.append(attendance_message(event))
            elif isinstance(event, FixBeyondLateness):
                step.beyond_lateness += 1
                logger.warning(
                    "fix of %s at %s is beyond the allowed lateness: stored, not judged",
                    event.device_id,
                    event.fix_time.isoformat(),
                )

    def _positions(self, fixes: list[Fix]) -> list[Message]:
        """Each device's newest valid fix, if newer than the one the map shows."""
        newest: dict[str, Fix] = {}
        for fix in fixes:
            before = newest.get(fix.device_id)
            if fix.valid and (before is None or fix.fix_time > before.fix_time):
                newest[fix.device_id] = fix
        messages = []
        for device_id, fix in sorted(newest.items()):
            shown = self._shown.get(device_id)
            if shown is None or fix.fix_time > shown:
                self._shown[device_id] = fix.fix_time
                messages.append(position_message(fix, self._subject_of.get(device_id)))
        return messages

    def _count(
        self, now: datetime, records: int, refused: int, engine_events: int, step: _Step
    ) -> None:
        with self._stats_lock:
            stats = self._stats
            stats.steps += 1
            stats.records += records
            stats.refused_records += refused
            stats.fixes_new += step.fixes_new
            stats.device_events_new += step.events_new
            stats.engine_events += engine_events
            stats.beyond_lateness += step.beyond_lateness
            stats.alerts_written += step.alerts
            stats.last_step_at = now

    def _prune(self, now: datetime) -> None:
        if time.monotonic() - self._pruned < self.settings.prune_every_s:
            return
        self._pruned = time.monotonic()
        self._log.prune(now - timedelta(seconds=self.settings.dedupe_window_s))

    # -- rules and the engine state --------------------------------------------------------

    def _current_rules(self, now: datetime) -> tuple[CompiledRules, EngineState]:
        due = time.monotonic() - self._rules_checked >= self.settings.rules_check_s
        moved = self._scope is not None and self._log.device_scope() != self._scope
        if self._rules is None or self._reload.is_set() or due or moved:
            self._reload.clear()
            self._rules_checked = time.monotonic()
            book = self._store.rule_book(now, settings=self.settings.engine)
            scope = self._log.device_scope()
            if book != self._book or self._rules is None or scope != self._scope:
                self._rebuild(book, scope, now)
        if self._rules is None or self._state is None:
            raise AssertionError("the monitor has no rules after a rebuild")
        return self._rules, self._state

    def _rebuild(self, book: RuleBook, scope: DeviceScope, now: datetime) -> None:
        """Compile the rules of the devices in scope and replay their stored window.

        With a partitioned log each monitor process judges only the devices of the
        partitions it owns; a move of partitions (a takeover) rebuilds the same way a
        restart does, so the results match an uninterrupted run.
        """
        started = time.monotonic()
        rules = compile_rules(_within(book, scope))
        state = EngineState.empty(rules)
        for fixes, events in self._stored_window(rules, now):
            state, _ = evaluate(rules, state, fixes, events, now)
        aliases, touched = self._reconcile(rules, state, scope, now)
        self._book, self._rules, self._state, self._aliases = book, rules, state, aliases
        self._scope = scope
        self._subject_of = dict(zip(rules.device_ids, rules.device_subject, strict=True))
        took = time.monotonic() - started
        with self._stats_lock:
            self._stats.rebuilds += 1
            self._stats.last_rebuild_s = took
        logger.info(
            "engine rebuilt: %d devices, %d slots, %d fixes replayed in %.2f s",
            rules.device_count,
            rules.slot_count,
            len(state.history),
            took,
        )
        self._bus.publish_many(alert_message(alert) for alert in touched)

    def _stored_window(
        self, rules: CompiledRules, now: datetime
    ) -> Iterator[tuple[list[Fix], list[DeviceEvent]]]:
        """The stored fixes and device events of the lateness window, in time chunks."""
        devices = list(rules.device_ids)
        event_devices = sorted({*devices, *rules.beacon_tags})
        if not event_devices:
            return
        step = timedelta(seconds=self.settings.replay_chunk_s)
        start = now - timedelta(seconds=rules.settings.allowed_lateness_s)
        last = now + FUTURE_SLACK
        while start <= last:
            end = min(start + step, now) if start <= now else last  # the future: one chunk
            fixes = [
                fix
                for group in _groups(devices)
                for fix in self._store.fixes.trail(start=start, end=end, device_ids=group)
            ]
            events = [
                event
                for group in _groups(event_devices)
                for event in self._store.device_events.list_device_events(
                    start=start, end=end, device_ids=group
                )
            ]
            yield fixes, events
            start = end + timedelta(microseconds=1)

    def _reconcile(
        self, rules: CompiledRules, state: EngineState, scope: DeviceScope, now: datetime
    ) -> tuple[dict[str, Episode], list[Alert]]:
        """Bring the store's open episodes and the rebuilt engine's episodes together.

        Returns the aliases (rebuilt episode id -> the stored episode it continues) and the
        alerts written.
        """
        aliases: dict[str, Episode] = {}
        requirements = {
            (info.device_id, info.rule, info.requirement_id) for info in rules.slot_info
        }
        requirements |= {(device, rule, "") for device in rules.device_ids for rule in HEALTH_RULES}
        late_after = timedelta(seconds=rules.settings.late_after_s)
        with self._store.transaction() as tx:
            writer = MonitorAlerts(tx, now, _risk_lookup(tx))
            stored_open: dict[EpisodeKey, list[Episode]] = defaultdict(list)
            for episode in tx.episodes.open_episodes():
                if scope.owns(episode.device_id):  # another partition's are not ours
                    stored_open[_key(episode)].append(episode)
            matched: set[str] = set()
            for episode in sorted(state.all_episodes(), key=lambda e: (e.start, e.id)):
                stored = tx.episodes.get_episode(episode.id)
                if stored is not None:
                    matched.add(episode.id)
                    if stored.end is None and episode.end is not None:  # ended meanwhile
                        writer.episode_event(_event(EpisodeChange.CLOSED, episode, now), episode)
                    continue
                same = [s for s in stored_open[_key(episode)] if s.id not in matched]
                if same and same[0].start < episode.start:
                    # Started before the replayed window: the engine saw only its later part.
                    matched.add(same[0].id)
                    aliases[episode.id] = same[0]
                    if episode.end is not None:
                        whole = continued(episode, same[0])
                        writer.episode_event(_event(EpisodeChange.CLOSED, episode, now), whole)
                elif same or episode.end is None:
                    # Open now and unknown to the store (new rules judged it, or the engine
                    # found an earlier start): raise it now, taking over a stored alert.
                    late = now - episode.confirmed_at > late_after
                    replaced = tuple(s.id for s in same)
                    matched.update(replaced)
                    event = _event(EpisodeChange.OPENED, episode, now, late, replaced)
                    writer.episode_event(event, episode, replaced)
            for episodes in stored_open.values():
                for episode in episodes:
                    if episode.id in matched:
                        continue
                    if _key(episode) not in requirements:
                        writer.close_episode(episode, CLOSED_UNMONITORED)
                    else:
                        logger.info("open episode %s has no evidence in the window", episode.id)
        return aliases, list(writer.touched.values())

    def _forget_finished_aliases(self) -> None:
        state = self._state
        published = {episode.id for episode in state.all_episodes()} if state else set()
        self._aliases = {k: v for k, v in self._aliases.items() if k in published}


def _within(book: RuleBook, scope: DeviceScope) -> RuleBook:
    """The rule book cut to the devices in scope (all of it for an unpartitioned log)."""
    if scope.partitions is None:
        return book
    subjects: list[SubjectRules] = []
    for rules in book.subjects:
        devices = tuple(device for device in rules.device_ids if scope.owns(device))
        if devices:
            subjects.append(replace(rules, device_ids=devices))
    return replace(book, subjects=tuple(subjects))


def _event(
    change: EpisodeChange,
    episode: Episode,
    now: datetime,
    late: bool = False,
    replaces: tuple[str, ...] = (),
) -> EpisodeEvent:
    return EpisodeEvent(change, episode, now, late, replaces)


def _decode(records: list[InboxRecord]) -> tuple[list[Fix], list[DeviceEvent], int]:
    fixes: list[Fix] = []
    events: list[DeviceEvent] = []
    refused = 0
    for record in records:
        try:
            # A record this process appended comes with what it was made from (the handoff).
            decoded = record.decoded if record.decoded is not None else decode_record(record)
        except PayloadError as error:
            refused += 1
            logger.error("log record %d (%s) refused: %s", record.seq, record.key, error)
            continue
        if isinstance(decoded, Fix):
            fixes.append(decoded)
        else:
            events.append(decoded)
    return fixes, events, refused


def _risk_lookup(tx: UnitOfWork) -> Callable[[str], RiskLevel]:
    known: dict[str, RiskLevel] = {}

    def risk_of(subject_id: str) -> RiskLevel:
        if subject_id not in known:
            subject = tx.subjects.get_subject(subject_id)
            known[subject_id] = RiskLevel.MEDIUM if subject is None else subject.risk_level
        return known[subject_id]

    return risk_of


def _groups(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), DEVICES_PER_QUERY):
        yield items[i : i + DEVICES_PER_QUERY]


def _key(episode: Episode) -> EpisodeKey:
    return episode.device_id, episode.rule, episode.requirement_id
