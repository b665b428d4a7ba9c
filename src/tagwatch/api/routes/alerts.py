"""The alert queue, an alert's case history, and the actions operators take."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tagwatch.api.context import Services
from tagwatch.api.deps import AdminDep, CurrentUser, QueriesDep, ServicesDep
from tagwatch.api.schemas.alerts import (
    AlertActionCreate,
    AlertDetailPublic,
    AlertPagePublic,
    AlertPublic,
    DeviceCommandPublic,
)
from tagwatch.api.schemas.common import UtcDatetime
from tagwatch.service.queries import MAX_ALERT_PAGE
from tagwatch.store.records import AlertSeverity, AlertState

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=AlertPagePublic)
def list_alerts(
    *,
    state: Annotated[list[AlertState] | None, Query(description="repeat for several")] = None,
    severity: Annotated[list[AlertSeverity] | None, Query()] = None,
    subject_id: Annotated[str | None, Query()] = None,
    since: Annotated[
        UtcDatetime | None, Query(description="created at or after, with a time zone")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ALERT_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    queries: QueriesDep,
    _user: CurrentUser,
) -> AlertPagePublic:
    """Newest first, the alerts of the subjects you may read; pages follow `next_cursor`
    and neither skip nor repeat alerts."""
    page = queries.alerts(
        states=state,
        severities=severity,
        subject_id=subject_id,
        since=since,
        limit=limit,
        cursor=cursor,
    )
    return AlertPagePublic.of(page)


@router.get("/{alert_id}", response_model=AlertDetailPublic)
def get_alert(
    *, alert_id: str, queries: QueriesDep, services: ServicesDep, _user: CurrentUser
) -> AlertDetailPublic:
    """The alert, its history, its episode, the actions allowed now and the messages sent
    to the wearer's device about it."""
    detail = AlertDetailPublic.of_detail(queries.alert(alert_id))
    detail.notifications = _notifications(services, alert_id)
    return detail


@router.get("/{alert_id}/commands", response_model=list[DeviceCommandPublic])
def alert_commands(
    *, alert_id: str, queries: QueriesDep, services: ServicesDep, _user: CurrentUser
) -> list[DeviceCommandPublic]:
    """The messages sent to the wearer's device about the alert, with their delivery state."""
    queries.alert(alert_id)  # 404 unless the alert exists and this user may see it
    return _notifications(services, alert_id)


def _notifications(services: Services, alert_id: str) -> list[DeviceCommandPublic]:
    return [DeviceCommandPublic.of(c) for c in services.store.commands.commands_for_alert(alert_id)]


@router.post("/{alert_id}/actions", response_model=AlertPublic)
def act_on_alert(
    *,
    alert_id: str,
    body: AlertActionCreate,
    admin: AdminDep,
) -> AlertPublic:
    """acknowledge, escalate, resolve (with an outcome), reopen, or note; 409 if the
    workflow does not allow it now or somebody else acted first. Scoped and audited."""
    alert = admin.act_on_alert(alert_id, body.action, note=body.note, outcome=body.outcome)
    return AlertPublic.of(alert)
