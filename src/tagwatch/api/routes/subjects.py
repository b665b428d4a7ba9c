"""Subjects (the people monitored), and a subject's trail as GeoJSON, GPX or CSV."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse, Response

from tagwatch.api.deps import AdminDep, QueriesDep, StatedPurpose
from tagwatch.api.schemas.common import UtcDatetime
from tagwatch.api.schemas.people import SubjectCreate, SubjectPublic, SubjectUpdate
from tagwatch.api.schemas.users import SubjectMove
from tagwatch.service import exports

router = APIRouter(prefix="/subjects", tags=["subjects"])


class TrailFormat(StrEnum):
    GEOJSON = "geojson"
    GPX = "gpx"
    CSV = "csv"


@router.get("", response_model=list[SubjectPublic])
def list_subjects(*, queries: QueriesDep) -> list[SubjectPublic]:
    """The subjects you may read: your organisation's, those shared with it now, or every
    subject for the monitoring centre and the administrators."""
    return [SubjectPublic.of(subject) for subject in queries.subjects()]


@router.post("", response_model=SubjectPublic, status_code=status.HTTP_201_CREATED)
def create_subject(
    *,
    body: SubjectCreate,
    organisation_id: Annotated[
        str | None,
        Query(description="the managing organisation (default: yours; others: national admins)"),
    ] = None,
    admin: AdminDep,
) -> SubjectPublic:
    return SubjectPublic.of(admin.create_subject(body.to_domain(), organisation_id=organisation_id))


@router.get("/{subject_id}", response_model=SubjectPublic)
def get_subject(*, subject_id: str, queries: QueriesDep) -> SubjectPublic:
    return SubjectPublic.of(queries.subject(subject_id))


@router.patch("/{subject_id}", response_model=SubjectPublic)
def update_subject(*, subject_id: str, body: SubjectUpdate, admin: AdminDep) -> SubjectPublic:
    return SubjectPublic.of(admin.update_subject(subject_id, body.to_changes()))


@router.get("/{subject_id}/organisation", response_model=SubjectMove)
def get_subject_organisation(*, subject_id: str, queries: QueriesDep) -> SubjectMove:
    """Which organisation manages the subject."""
    return SubjectMove(organisation_id=queries.subject_organisation(subject_id))


@router.put("/{subject_id}/organisation", response_model=SubjectMove)
def move_subject(*, subject_id: str, body: SubjectMove, admin: AdminDep) -> SubjectMove:
    """Hand the subject to another managing organisation (administrators only)."""
    admin.move_subject(subject_id, body.organisation_id)
    return body


@router.get(
    "/{subject_id}/trail",
    responses={
        200: {
            "content": {
                "application/geo+json": {},
                "application/gpx+xml": {},
                "text/csv": {},
            },
            "description": "the fixes in the range, in the format asked for",
        }
    },
)
def get_trail(
    *,
    subject_id: str,
    start: Annotated[UtcDatetime, Query(description="first instant, with a time zone")],
    end: Annotated[UtcDatetime, Query(description="last instant, with a time zone")],
    format: Annotated[TrailFormat, Query()] = TrailFormat.GEOJSON,
    valid_only: Annotated[bool, Query()] = False,
    purpose: StatedPurpose,
    queries: QueriesDep,
) -> Response:
    """The subject's fixes from `start` to `end` (both included), from every device fitted
    to them at the time. GeoJSON has a point per fix and a line per device; GPX has valid
    fixes only; CSV has every fix.

    Needs a stated purpose, `purpose_code` and `purpose` (422 without): the read is audited
    with it (GeoJSON as trail.read, GPX and CSV files as export.read). Only this subject's
    fixes in this range are in the answer."""
    export = None if format is TrailFormat.GEOJSON else format.value
    fixes = queries.trail(
        subject_id,
        start=start,
        end=end,
        valid_only=valid_only,
        purpose=purpose,
        export_format=export,
    )
    name = f"trail-{subject_id}"
    if format is TrailFormat.GPX:
        body = exports.trail_gpx(fixes, subject_id=subject_id, start=start, end=end)
        return Response(body, media_type="application/gpx+xml", headers=_attachment(name, "gpx"))
    if format is TrailFormat.CSV:
        return Response(
            exports.trail_csv(fixes),
            media_type="text/csv; charset=utf-8",
            headers=_attachment(name, "csv"),
        )
    collection = exports.trail_geojson(fixes, subject_id=subject_id, start=start, end=end)
    return JSONResponse(collection, media_type="application/geo+json")


def _attachment(name: str, extension: str) -> dict[str, str]:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return {"Content-Disposition": f'attachment; filename="{safe}.{extension}"'}
