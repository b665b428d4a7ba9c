"""AlertService: workflow actions persisted with their history, illegal ones refused,
concurrent ones settled by optimistic concurrency, every change on the bus."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagwatch.domain.episodes import RuleKind
from tagwatch.service.alerts import AlertService
from tagwatch.service.bus import Bus
from tagwatch.service.clock import FixedClock
from tagwatch.service.workflow import AlertAction, IllegalTransition
from tagwatch.store import ConflictError, NotFoundError, SecretHasher, SqliteStore
from tagwatch.store.records import Alert, AlertDraft, AlertOutcome, AlertSeverity, AlertState

T = datetime(2026, 11, 2, 22, 14, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "tagwatch.db", hasher=SecretHasher.cheapest()) as opened:
        yield opened


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T + timedelta(minutes=1))


@pytest.fixture
def service(store: SqliteStore, clock: FixedClock) -> AlertService:
    return AlertService(store, Bus(), clock)


def raise_alert(store: SqliteStore, episode: str = "tag-1/exclusion/zone-1/x") -> Alert:
    draft = AlertDraft(
        episode_id=episode,
        subject_id="subject-1",
        device_id="tag-1",
        rule=RuleKind.EXCLUSION,
        requirement_id="zone-1",
        severity=AlertSeverity.HIGH,
        occurred_at=T,
        detected_at=T,
        late=False,
        ack_deadline=T + timedelta(minutes=5),
    )
    return store.alerts.upsert_alert_for_episode(draft, now=T).alert


def test_each_action_is_persisted_with_its_history(
    service: AlertService, store: SqliteStore, clock: FixedClock
) -> None:
    alert = raise_alert(store)
    acknowledged = service.act(alert.id, AlertAction.ACKNOWLEDGE, actor="op-1", note="calling")
    clock.advance(timedelta(minutes=2))
    service.act(alert.id, "note", actor="op-1", note="no answer")
    clock.advance(timedelta(minutes=2))
    resolved = service.act(
        alert.id,
        "resolve",
        actor="op-1",
        note="in hospital, letter seen",
        outcome=AlertOutcome.AUTHORISED_ABSENCE,
    )
    assert acknowledged.state is AlertState.ACKNOWLEDGED
    assert (resolved.state, resolved.outcome) == (
        AlertState.RESOLVED,
        AlertOutcome.AUTHORISED_ABSENCE,
    )
    assert store.alerts.get_alert(alert.id) == resolved
    rows = service.history(alert.id)
    assert [(r.action, r.from_state, r.to_state, r.actor) for r in rows] == [
        ("acknowledge", AlertState.NEW, AlertState.ACKNOWLEDGED, "op-1"),
        ("note", AlertState.ACKNOWLEDGED, AlertState.ACKNOWLEDGED, "op-1"),
        ("resolve", AlertState.ACKNOWLEDGED, AlertState.RESOLVED, "op-1"),
    ]
    assert [r.at for r in rows] == [T + timedelta(minutes=m) for m in (1, 3, 5)]
    assert rows[-1].note == "in hospital, letter seen"


def test_an_illegal_action_is_refused_and_nothing_is_written(
    service: AlertService, store: SqliteStore
) -> None:
    alert = raise_alert(store)
    with pytest.raises(IllegalTransition, match="cannot resolve an alert that is new"):
        service.act(alert.id, "resolve", actor="op-1", note="x", outcome="false_alert")
    with pytest.raises(IllegalTransition, match="needs a note"):
        service.act(alert.id, "acknowledge", actor="op-1", note=" ")
    assert store.alerts.get_alert(alert.id) == alert
    assert service.history(alert.id) == []


def test_an_unknown_alert_or_action_is_refused(service: AlertService) -> None:
    with pytest.raises(NotFoundError):
        service.act("nope", "acknowledge", actor="op-1", note="n")
    with pytest.raises(ValueError, match="'dismiss' is not a valid AlertAction"):
        service.act("nope", "dismiss", actor="op-1", note="n")


class ClockThatLetsSomeoneActFirst(FixedClock):
    """Runs `first` when the service reads the time: after it read the alert, before it writes."""

    def __init__(self, at: datetime, first: Callable[[], object]) -> None:
        super().__init__(at)
        self._first: Callable[[], object] | None = first

    def now(self) -> datetime:
        first, self._first = self._first, None
        if first is not None:
            first()
        return super().now()


def test_an_action_on_a_state_that_changed_meanwhile_is_a_conflict(
    store: SqliteStore, service: AlertService
) -> None:
    alert = raise_alert(store)

    def colleague() -> None:
        service.act(alert.id, "escalate", actor="op-2", note="police informed")

    slow = AlertService(store, Bus(), ClockThatLetsSomeoneActFirst(T, colleague))
    with pytest.raises(ConflictError, match="somebody else acted on it first"):
        slow.act(alert.id, "acknowledge", actor="op-1", note="calling")
    assert store.alerts.get_alert(alert.id).state is AlertState.ESCALATED  # type: ignore[union-attr]
    assert [r.actor for r in service.history(alert.id)] == ["op-2"]


def test_concurrent_acknowledgements_let_exactly_one_through(
    store: SqliteStore, service: AlertService
) -> None:
    alert = raise_alert(store)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def operator(i: int) -> None:
        start.wait()
        try:
            service.act(alert.id, "acknowledge", actor=f"op-{i}", note="mine")
            outcomes.append("ok")
        except (ConflictError, IllegalTransition) as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=operator, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 1
    assert len(service.history(alert.id)) == 1


def test_escalating_gives_a_fresh_deadline(service: AlertService, store: SqliteStore) -> None:
    alert = raise_alert(store)
    escalated = service.act(alert.id, "escalate", actor="notifier", note="overdue")
    assert escalated.ack_deadline == T + timedelta(minutes=1 + 5)  # high: 5 minutes


def test_overdue_lists_new_alerts_past_their_deadline(
    service: AlertService, store: SqliteStore, clock: FixedClock
) -> None:
    due = raise_alert(store, "a")
    taken = raise_alert(store, "b")
    service.act(taken.id, "acknowledge", actor="op-1", note="mine")
    assert service.overdue(T + timedelta(minutes=4)) == []
    clock.set(T + timedelta(minutes=5))
    assert [a.id for a in service.overdue()] == [due.id]


def test_every_change_goes_out_on_the_bus(store: SqliteStore, clock: FixedClock) -> None:
    bus = Bus()
    service = AlertService(store, bus, clock)
    alert = raise_alert(store)

    async def watch() -> dict[str, object]:
        feed = bus.subscribe()
        await asyncio.to_thread(service.act, alert.id, "acknowledge", actor="op", note="n")
        return await asyncio.wait_for(feed.get(), 5)

    message = asyncio.run(watch())
    assert message["type"] == "alert"
    sent = message["alert"]
    assert isinstance(sent, dict)
    assert (sent["id"], sent["state"], sent["rule"]) == (alert.id, "acknowledged", "exclusion")
    assert sent["updated_at"] == (T + timedelta(minutes=1)).isoformat()
