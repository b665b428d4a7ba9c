"""Requirement preview: the alerts a draft zone or curfew would have raised over a subject's
stored trail (the real engine replaying the stored fixes; nothing is saved)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tagwatch.api.context import Services
from tagwatch.api.deps import ClockDep, CurrentUser, QueriesDep, ServicesDep, StatedPurpose
from tagwatch.api.schemas.alerts import EpisodePublic
from tagwatch.api.schemas.requirements import CurfewCreate, ZoneCreate
from tagwatch.domain.zones import Curfew, Zone
from tagwatch.service.audit import Purpose
from tagwatch.service.clock import Clock
from tagwatch.service.preview import (
    DEFAULT_PREVIEW_DAYS,
    MAX_PREVIEW_DAYS,
    RequirementPreview,
    preview_requirement,
)
from tagwatch.service.queries import Queries

router = APIRouter(prefix="/subjects", tags=["zones"])

Days = Annotated[int, Query(ge=1, le=MAX_PREVIEW_DAYS, description="how far back to replay")]


class PreviewPublic(BaseModel):
    subject_id: str
    requirement_id: str = Field(description="the draft's id (generated when not given)")
    start: datetime
    end: datetime
    fixes: int = Field(description="stored fixes replayed through the engine")
    alerts: int = Field(description="alerts it would have raised (one per episode)")
    warnings: int = Field(description="approach warnings from a zone's warning buffer")
    episodes: list[EpisodePublic]

    @classmethod
    def of(cls, found: RequirementPreview) -> PreviewPublic:
        return cls(
            subject_id=found.subject_id,
            requirement_id=found.requirement_id,
            start=found.start,
            end=found.end,
            fixes=found.fixes,
            alerts=found.alerts,
            warnings=found.warnings,
            episodes=[EpisodePublic.of(episode) for episode in found.episodes],
        )


@router.post("/{subject_id}/zone-preview", response_model=PreviewPublic)
def preview_zone(
    *,
    subject_id: str,
    body: ZoneCreate,
    days: Days = DEFAULT_PREVIEW_DAYS,
    services: ServicesDep,
    queries: QueriesDep,
    purpose: StatedPurpose,
    clock: ClockDep,
    _user: CurrentUser,
) -> PreviewPublic:
    """A draft zone (the Feature `POST /zones` takes; nothing is saved) judged by the real
    engine against the subject's stored fixes of the last `days` days. Reading that history
    needs a stated purpose (`purpose_code`, `purpose`), as a trail does, and is audited."""
    if body.properties.subject_id != subject_id:
        raise ValueError("the draft zone's subject_id is not the subject in the path")
    return _preview(body.to_domain(), days, services, queries, purpose, clock)


@router.post("/{subject_id}/curfew-preview", response_model=PreviewPublic)
def preview_curfew(
    *,
    subject_id: str,
    body: CurfewCreate,
    days: Days = DEFAULT_PREVIEW_DAYS,
    services: ServicesDep,
    queries: QueriesDep,
    purpose: StatedPurpose,
    clock: ClockDep,
    _user: CurrentUser,
) -> PreviewPublic:
    """A draft curfew (the body `POST /curfews` takes; nothing is saved), judged like a
    draft zone. A beacon named in the draft is not replayed: GPS alone judges presence."""
    if body.subject_id != subject_id:
        raise ValueError("the draft curfew's subject_id is not the subject in the path")
    return _preview(body.to_domain(), days, services, queries, purpose, clock)


def _preview(
    draft: Zone | Curfew,
    days: int,
    services: Services,
    queries: Queries,
    purpose: Purpose | None,
    clock: Clock,
) -> PreviewPublic:
    if isinstance(draft, Curfew):
        draft = replace(draft, beacon_device_id=None)  # no beacon events are replayed
    end = clock.now()
    start = end - timedelta(days=days)
    # Through the query service: it checks this user may read the subject's history, and
    # audits the read with the stated purpose.
    fixes = queries.trail(draft.subject_id, start=start, end=end, purpose=purpose)
    devices = [a.device_id for a in queries.assignments(subject_id=draft.subject_id)]
    found = preview_requirement(
        draft,
        fixes,
        devices=devices,
        start=start,
        end=end,
        settings=services.monitor.settings.engine,
    )
    return PreviewPublic.of(found)
