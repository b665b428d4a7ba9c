"""The HTTP side: the API (FastAPI, /api/v1, docs at /docs) and the OsmAnd listener."""

from __future__ import annotations

from tagwatch.api.app import create_app
from tagwatch.api.context import ApiContext
from tagwatch.api.osmand import create_osmand_app
from tagwatch.api.settings import ApiSettings

__all__ = ["ApiContext", "ApiSettings", "create_app", "create_osmand_app"]
