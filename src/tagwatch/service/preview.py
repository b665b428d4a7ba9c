"""Requirement preview: how many alerts would a draft zone or curfew have raised over a
subject's stored trail?

The zone editor asks this before a zone or curfew is saved. The answer comes from the real
engine, not an approximation: the draft becomes the only requirement of a one-subject rule
book, and the subject's stored fixes of the period are replayed through `engine.evaluate`
a day at a time, with the engine's clock at the end of each day - as the monitor would have
judged them had the requirement been in force. The caller reads the trail through the query
service (which checks the user may read the subject's history and audits the read);
nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tagwatch.domain.episodes import ApproachWarning, Episode, EpisodeEvent
from tagwatch.domain.positions import Fix
from tagwatch.domain.rules import EngineSettings, RuleBook, SubjectRules
from tagwatch.domain.zones import Curfew, Zone
from tagwatch.engine import EngineState, compile_rules, evaluate

DEFAULT_PREVIEW_DAYS = 30
MAX_PREVIEW_DAYS = 93
CHUNK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class RequirementPreview:
    requirement_id: str
    subject_id: str
    start: datetime
    end: datetime
    fixes: int  # stored fixes replayed
    episodes: tuple[Episode, ...]  # one alert each
    warnings: int = 0  # approach warnings (warning buffer of an exclusion zone)
    devices: tuple[str, ...] = field(default=())

    @property
    def alerts(self) -> int:
        return len(self.episodes)


def preview_requirement(
    requirement: Zone | Curfew,
    fixes: Sequence[Fix],
    *,
    devices: Sequence[str],
    start: datetime,
    end: datetime,
    settings: EngineSettings | None = None,
) -> RequirementPreview:
    """Replay `fixes` (the subject's stored trail from `start` to `end`, from its `devices`)
    against `requirement` alone, a day at a time, the engine's clock at each day's end."""
    if end <= start:
        raise ValueError("a preview's end must be after its start")
    devices = tuple(sorted(set(devices)))
    ordered = sorted(
        (f for f in fixes if f.device_id in devices and start <= f.fix_time <= end),
        key=lambda f: f.fix_time,
    )
    if not devices:
        return RequirementPreview(requirement.id, requirement.subject_id, start, end, 0, (), 0)
    if isinstance(requirement, Zone):
        rules_of = SubjectRules(requirement.subject_id, devices, zones=(requirement,))
    else:
        rules_of = SubjectRules(requirement.subject_id, devices, curfews=(requirement,))
    book = RuleBook(
        subjects=(rules_of,),
        settings=settings if settings is not None else EngineSettings(),
    )
    rules = compile_rules(book)
    state = EngineState.empty(rules)
    episodes: dict[str, Episode] = {}
    warnings = 0
    taken = 0
    chunk_end = start
    while chunk_end < end:
        chunk_end = min(chunk_end + CHUNK, end)
        first = taken
        while taken < len(ordered) and ordered[taken].fix_time <= chunk_end:
            taken += 1
        state, events = evaluate(rules, state, ordered[first:taken], (), chunk_end)
        for event in events:
            if isinstance(event, EpisodeEvent) and event.episode.requirement_id == requirement.id:
                # Episodes are upserts with stable ids; a re-run replaces what it supersedes.
                for replaced in event.replaces:
                    episodes.pop(replaced, None)
                episodes[event.episode.id] = event.episode
            elif isinstance(event, ApproachWarning) and event.zone_id == requirement.id:
                warnings += 1
    found = tuple(sorted(episodes.values(), key=lambda e: (e.start, e.id)))
    return RequirementPreview(
        requirement.id, requirement.subject_id, start, end, taken, found, warnings, devices
    )
