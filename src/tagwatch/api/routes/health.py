"""Liveness for load balancers and metrics for Prometheus: no sign-in needed."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from tagwatch.api.deps import ContextDep
from tagwatch.api.metrics import CONTENT_TYPE, exposition

router = APIRouter(tags=["health"])
metrics_router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    status: Literal["ok"] = "ok"
    schema_version: int


@router.get("/health", response_model=HealthPublic)
def health(*, context: ContextDep) -> HealthPublic:
    """200 while the process serves requests and its store is open."""
    return HealthPublic(schema_version=context.services.store.schema_version())


@metrics_router.get("/metrics", response_class=PlainTextResponse)
async def metrics(*, context: ContextDep) -> PlainTextResponse:
    """Prometheus text format: requests, records ingested and refused, inbox pending,
    alerts by state, unknown devices."""
    gauges = await run_in_threadpool(context.gauges)
    return PlainTextResponse(exposition(context.metrics, gauges), media_type=CONTENT_TYPE)
