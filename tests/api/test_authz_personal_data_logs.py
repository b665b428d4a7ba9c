"""Application logs carry no positions and no names: a whole day's work (ingest, a breach,
an alert worked, a trail read, refused and malformed reports) is driven through the real
apps and monitor with every logger at DEBUG, and the captured log is searched for the
coordinates and the subject's name."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from apikit import PURPOSE, ST_ALBANS, T0, Stack, add_tagged_subject, circle_zone, created
from fastapi.testclient import TestClient

from tagwatch.server import MaskSecrets

NAME = "Zebedee Quartermaine"
REFERENCE = "PNC 99/123456X"
# Distinctive digits: they appear nowhere else, so finding them in the log is a leak.
LAT, LON = 51.7523917, -0.3361283


def _osmand(osmand: TestClient, minutes: int, lat: float, lon: float, device: str = "tag-1") -> int:
    moment = int((T0 + timedelta(minutes=minutes)).timestamp())
    query = f"/?id={device}&timestamp={moment}&lat={lat}&lon={lon}&accuracy=5"
    return osmand.get(query).status_code


def test_logs_carry_no_positions_and_no_names(
    api: TestClient,
    osmand: TestClient,
    stack: Stack,
    admin: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    add_tagged_subject(api, admin, "s-1", "tag-1")
    patch = {"name": NAME, "reference": REFERENCE}
    assert api.patch("/api/v1/subjects/s-1", json=patch, headers=admin).status_code == 200
    created(
        api.post(
            "/api/v1/zones",
            json=circle_zone("s-1", "z-1", radius_m=300.0, centre=ST_ALBANS),
            headers=admin,
        )
    )
    for minute in range(0, 12, 2):  # inside the exclusion zone: a breach
        assert _osmand(osmand, minute, LAT, LON) == 200
    assert _osmand(osmand, 1, LAT, LON, device="stranger") == 403  # unknown device
    assert osmand.get(f"/?id=tag-1&lat={LAT}&lon=999.5&timestamp=1").status_code == 400
    assert osmand.get(f"/?id=tag-1&lat={LAT}").status_code == 400
    stack.clock.advance(timedelta(minutes=12))  # within the access token's 15 min
    stack.services.monitor.run_once()
    stack.services.monitor.run_once()
    alerts = api.get("/api/v1/alerts", headers=admin).json()["items"]
    assert alerts, "the breach raised an alert"
    body: dict[str, Any] = {"action": "acknowledge", "note": "phoned"}
    assert (
        api.post(f"/api/v1/alerts/{alerts[0]['id']}/actions", json=body, headers=admin).status_code
        == 200
    )
    window = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
    trail = api.get("/api/v1/subjects/s-1/trail", params={**window, **PURPOSE}, headers=admin)
    assert str(LAT) in trail.text  # the data is there for who may read it...
    assert caplog.records, "the run logged something to check"
    text = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if not record.name.startswith("httpx")  # the test client's own, not the server's
    )
    for secret in ("Zebedee", "Quartermaine", REFERENCE, "51.752", "0.336", "999.5"):
        assert secret not in text, f"{secret!r} leaked into the log"  # ...never in the log


def test_the_access_log_masks_positions_and_purposes() -> None:
    """uvicorn logs each request line; its filter masks what a query string can leak."""
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "10.0.0.7:5555",
            "GET",
            f"/?id=tag-1&lat={LAT}&lon={LON}&key=s3cret&location={LAT},{LON}"
            "&purpose=burglary+at+12+High+St",
            "1.1",
            200,
        ),
        None,
    )
    MaskSecrets().filter(record)
    line = record.getMessage()
    assert "id=tag-1" in line
    for leaked in (str(LAT), str(LON), "s3cret", "High"):
        assert leaked not in line
