"""Turning the engine's drafts into episodes and reporting what changed since last time.

Episodes are reported as differences against what was last published, so a re-run after
late data updates or supersedes an episode instead of raising a second one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from tagwatch.domain.episodes import (
    Episode,
    EpisodeChange,
    EpisodeEvent,
    RuleKind,
    episode_id,
)
from tagwatch.engine.compile import SlotInfo
from tagwatch.engine.machine import Draft
from tagwatch.engine.timebase import from_ms


def episode_from_draft(info: SlotInfo, draft: Draft) -> Episode:
    start = from_ms(draft.start)
    return Episode(
        id=episode_id(info.device_id, info.rule, info.requirement_id, start),
        device_id=info.device_id,
        subject_id=info.subject_id,
        rule=info.rule,
        requirement_id=info.requirement_id,
        start=start,
        end=None if draft.end is None else from_ms(draft.end),
        confirmed_at=from_ms(draft.confirmed_at),
        deepest_penetration_m=round(max(draft.deepest_m, 0.0), 2),
        confidence=round(draft.confidence, 6),
        evidence=tuple(from_ms(t) for t in draft.evidence()),
    )


def reopened_episode(published: Episode, draft: Draft) -> Episode:
    """`episode_from_draft` for the open draft of the already published open episode
    `published` (same slot, same start): its identity is reused, not rebuilt."""
    return reopened_if_changed(published, draft) or published


def reopened_if_changed(published: Episode, draft: Draft) -> Episode | None:
    """`reopened_episode`, or None where it would equal `published`.

    Only the fields a draft changes are compared (as one tuple, as the dataclass's own
    `==` compares all of them), before any Episode is built: most open episodes seen again
    in a batch are reported as UPDATED, but building one to find out costs as much as the
    comparison saves when nothing changed.
    """
    confirmed_at = from_ms(draft.confirmed_at)
    deepest = round(max(draft.deepest_m, 0.0), 2)
    confidence = round(draft.confidence, 6)
    evidence = tuple(map(from_ms, draft.evidence()))
    if (confirmed_at, deepest, confidence, evidence) == (
        published.confirmed_at,
        published.deepest_penetration_m,
        published.confidence,
        published.evidence,
    ) and published.end is None:
        return None
    return Episode(
        published.id,
        published.device_id,
        published.subject_id,
        published.rule,
        published.requirement_id,
        published.start,
        None,
        confirmed_at,
        deepest,
        confidence,
        evidence,
    )


def health_episode(
    device_id: str,
    subject_id: str,
    rule: RuleKind,
    start_ms: int,
    end_ms: int | None,
    confirmed_ms: int | None = None,
) -> Episode:
    """A device-health episode; `confirmed_ms` is when it became a violation (default start)."""
    start = from_ms(start_ms)
    return Episode(
        id=episode_id(device_id, rule, "", start),
        device_id=device_id,
        subject_id=subject_id,
        rule=rule,
        requirement_id="",
        start=start,
        end=None if end_ms is None else from_ms(end_ms),
        confirmed_at=start if confirmed_ms is None else from_ms(confirmed_ms),
        deepest_penetration_m=0.0,
        confidence=1.0,
        evidence=(),
    )


def merge(old: Sequence[Episode], newer: Iterable[Episode]) -> tuple[Episode, ...]:
    """`old` with episodes of the same id replaced by `newer` ones, sorted by start."""
    by_id = {episode.id: episode for episode in old}
    for episode in newer:
        by_id[episode.id] = episode
    return tuple(sorted(by_id.values(), key=lambda episode: episode.start))


def _overlaps(a: Episode, b: Episode) -> bool:
    a_end = a.end or datetime.max.replace(tzinfo=a.start.tzinfo)
    b_end = b.end or datetime.max.replace(tzinfo=b.start.tzinfo)
    return a.start <= b_end and b.start <= a_end


def changes(
    old: Sequence[Episode], new: Sequence[Episode], now: datetime, late_after_s: float
) -> list[EpisodeEvent]:
    if not old:  # the common case: episodes seen for the first time, nothing replaced
        return [
            EpisodeEvent(
                EpisodeChange.OPENED,
                episode,
                now,
                (now - episode.confirmed_at).total_seconds() > late_after_s,
                (),
            )
            for episode in new
        ]
    old_by_id = {episode.id: episode for episode in old}
    new_ids = {episode.id for episode in new}
    gone = [episode for episode in old if episode.id not in new_ids]
    replaced: set[str] = set()
    events: list[EpisodeEvent] = []
    for episode in new:
        # Late: found well after the evidence that proves it (buffered or delayed data).
        late = (now - episode.confirmed_at).total_seconds() > late_after_s
        before = old_by_id.get(episode.id)
        if before is None:
            replaces = tuple(g.id for g in gone if _overlaps(g, episode))
            replaced.update(replaces)
            events.append(EpisodeEvent(EpisodeChange.OPENED, episode, now, late, replaces))
        elif before != episode:
            change = (
                EpisodeChange.CLOSED
                if before.end is None and episode.end is not None
                else EpisodeChange.UPDATED
            )
            events.append(EpisodeEvent(change, episode, now, late=False))
    events.extend(
        EpisodeEvent(EpisodeChange.RETRACTED, g, now, late=False)
        for g in gone
        if g.id not in replaced
    )
    return events
