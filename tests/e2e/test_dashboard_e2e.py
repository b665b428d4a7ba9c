"""The monitoring-centre dashboard in Debian's Chromium against a real `tagwatch serve` fed
by the simulator: sign in, the live map, a breach seen live in the alert queue and worked
to a resolution (by mouse and by keyboard alone), trail playback, and a polygon exclusion
zone with a schedule drawn, previewed and saved. Every test also fails on any browser
console error (see conftest.py)."""

from __future__ import annotations

import itertools
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from e2ekit import LiveServer, json_of, screenshot, sign_in, until
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

BREACH_SEEN_S = 5.0  # the promise: a breach is in the queue within 5 s
_ids = itertools.count(1)


def _subject_with_exclusion_zone(server: LiveServer) -> dict[str, Any]:
    """A new subject with a tag and a 300 m exclusion circle near Welwyn, via the API."""
    n = next(_ids)
    subject_id, device_id = f"e2e-subject-{n}-{time.time_ns()}", f"e2e-tag-{n}-{time.time_ns()}"
    lat, lon = 51.80 + n * 0.01, -0.20
    with server.client() as api:
        json_of(api.post("/subjects", json={"id": subject_id, "name": f"E2E Person {n}"}))
        json_of(api.post("/devices", json={"id": device_id}))
        json_of(
            api.post(
                "/assignments",
                json={
                    "device_id": device_id,
                    "subject_id": subject_id,
                    "start": "2020-01-01T00:00:00Z",
                },
            )
        )
        zone = json_of(
            api.post(
                "/zones",
                json={
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [lon, lat], "radius_m": 300},
                    "properties": {
                        "subject_id": subject_id,
                        "kind": "exclusion",
                        "name": "victim's home",
                    },
                },
            )
        )
    return {
        "subject_id": subject_id,
        "device_id": device_id,
        "zone_id": zone["id"],
        "lat": lat,
        "lon": lon,
    }


def _breach(server: LiveServer, target: dict[str, Any]) -> None:
    """Three fixes 4 m accurate at the zone's centre, the last one now, over OsmAnd."""
    now = datetime.now(UTC)
    for seconds in (40, 20, 0):
        server.osmand_fix(
            target["device_id"], target["lat"], target["lon"], now - timedelta(seconds=seconds)
        )


def _alert_of(server: LiveServer, subject_id: str) -> dict[str, Any]:
    with server.client() as api:
        items = json_of(api.get("/alerts", params={"subject_id": subject_id}))["items"]
        assert len(items) == 1, items
        detail: dict[str, Any] = json_of(api.get(f"/alerts/{items[0]['id']}"))
    return detail


def test_sign_in_shows_the_simulated_subjects_on_the_live_map(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    screenshot(page, "login")
    sign_in(page, live_server, "operator")
    expect(page.locator("#who")).to_contain_text("operator (monitoring_operator)")
    # An operator does not get the admin's zone editor.
    expect(page.locator("[data-nav=editor]")).to_be_hidden()
    items = page.locator("#subject-list .subject-item")
    expect(items.first).to_be_visible()
    shown = {items.nth(i).get_attribute("data-subject") for i in range(items.count())}
    assert shown & set(live_server.subject_ids), shown
    # Markers or clusters are on the map, and the offline base layer drew the land.
    expect(
        page.locator("#live-map .subject-marker, #live-map .marker-cluster").first
    ).to_be_visible()
    expect(
        page.locator("#live-map path.leaflet-interactive, #live-map svg path").first
    ).to_be_attached()
    page.wait_for_timeout(500)
    screenshot(page, "map", for_readme=True)


def test_an_expired_access_token_is_renewed_without_signing_in_again(
    page: Page, live_server: LiveServer, expected_console: list[str]
) -> None:
    # The browser logs the refused request before the dashboard renews the token.
    expected_console.append("401 (Unauthorized)")
    sign_in(page, live_server, "operator")
    first_refresh = page.evaluate("sessionStorage.getItem('tagwatch.refresh')")
    # A token the server no longer accepts, as after its 15 minutes: the next page load's
    # first request is refused, the refresh token renews the pair, and the page carries on.
    page.evaluate("sessionStorage.setItem('tagwatch.token', 'an-expired-token')")
    page.reload()
    page.locator("#topbar").wait_for(state="visible")
    page.locator("#feed-state.live").wait_for()
    expect(page.locator("#who")).to_contain_text("operator")
    expect(page.locator("#login-form")).to_be_hidden()
    # A new pair: the refresh token was spent (the access token may read the same when it
    # was issued within the same second: it carries only the user and the times).
    assert page.evaluate("sessionStorage.getItem('tagwatch.token')") != "an-expired-token"
    assert page.evaluate("sessionStorage.getItem('tagwatch.refresh')") not in (first_refresh, None)


def test_a_breach_appears_live_in_the_queue_and_is_worked_to_a_resolution(
    page: Page, live_server: LiveServer
) -> None:
    target = _subject_with_exclusion_zone(live_server)
    sign_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/app/#/alerts")
    expect(page.locator("#queue")).to_be_visible()
    loaded_at = page.evaluate("performance.timeOrigin")
    row = page.locator(f"tr.alert-row[data-subject='{target['subject_id']}']")
    expect(row).to_have_count(0)

    _breach(live_server, target)
    expect(row).to_be_visible(timeout=BREACH_SEEN_S * 1000)
    # Live, not a reload: the page is the same document.
    assert page.evaluate("performance.timeOrigin") == loaded_at
    expect(row).to_have_attribute("data-rule", "exclusion")
    expect(page.locator("#alert-count")).not_to_have_text("0")

    # The live map (built before the breach) got the new position over SSE, in violation.
    page.locator("[data-nav=map]").click()
    on_map = page.locator(f"#subject-list .subject-item[data-subject='{target['subject_id']}']")
    expect(on_map).to_have_attribute("data-status", "violation")
    assert page.evaluate("performance.timeOrigin") == loaded_at
    page.locator("[data-nav=alerts]").click()

    row.click()
    expect(page.locator("#alert-detail h2")).to_contain_text("Exclusion zone entered")
    expect(page.locator("#evidence-map path").first).to_be_attached()
    screenshot(page, "alerts", for_readme=True)

    page.locator("#alert-detail button[data-action=acknowledge]").click()
    page.locator("#action-note").fill("Called the subject; phone not answered.")
    page.locator("#action-form button[type=submit]").click()
    expect(row).to_have_attribute("data-state", "acknowledged")

    page.locator("#alert-detail button[data-action=resolve]").click()
    page.locator("#action-outcome").select_option("confirmed_breach")
    page.locator("#action-note").fill("Police attended; subject left the area.")
    page.locator("#action-form button[type=submit]").click()
    expect(row).to_have_count(0)  # resolved alerts leave the queue

    alert = _alert_of(live_server, target["subject_id"])
    assert alert["state"] == "resolved"
    assert alert["outcome"] == "confirmed_breach"
    assert alert["requirement_id"] == target["zone_id"]
    worked = [(h["to_state"], h["actor"], h["note"]) for h in alert["history"]]
    assert ("acknowledged", "operator", "Called the subject; phone not answered.") in worked
    assert ("resolved", "operator", "Police attended; subject left the area.") in worked


def test_an_alert_can_be_acknowledged_with_the_keyboard_alone(
    page: Page, live_server: LiveServer
) -> None:
    target = _subject_with_exclusion_zone(live_server)
    _breach(live_server, target)
    with live_server.client() as api:
        until(
            "the breach's alert",
            lambda: (
                api.get("/alerts", params={"subject_id": target["subject_id"]}).json()["items"]
                or None
            ),
        )
    sign_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/app/#/alerts")
    expect(page.locator(f"tr.alert-row[data-subject='{target['subject_id']}']")).to_be_visible()

    page.keyboard.press("Home")
    focused = page.locator("tr.alert-row:focus")
    expect(focused).to_have_count(1)
    for _ in range(200):
        if focused.get_attribute("data-subject") == target["subject_id"]:
            break
        page.keyboard.press("j")
    assert focused.get_attribute("data-subject") == target["subject_id"]
    # The focused row is visibly marked (a focus outline).
    outline = focused.evaluate("row => getComputedStyle(row).outlineStyle")
    assert outline != "none"
    page.keyboard.press("a")
    expect(page.locator("#action-note")).to_be_focused()
    page.keyboard.type("Acknowledged from the keyboard")
    page.keyboard.press("Enter")
    row = page.locator(f"tr.alert-row[data-subject='{target['subject_id']}']")
    expect(row).to_have_attribute("data-state", "acknowledged")
    expect(row).to_be_focused()

    alert = _alert_of(live_server, target["subject_id"])
    assert alert["state"] == "acknowledged"
    assert any(h["note"] == "Acknowledged from the keyboard" for h in alert["history"])


def _farthest_travelled(live_server: LiveServer) -> str:
    """The simulated subject whose trail, as the page loads it (the six hours before the
    latest fix), ends farthest from where it starts: a subject at home all along draws
    its first and last fix on the same pixel, and the slider's move could not be seen."""
    travelled: dict[str, float] = {}
    with live_server.client() as api:
        for feature in json_of(api.get("/positions"))["features"]:
            subject_id = feature["properties"]["subject_id"]
            if subject_id not in live_server.subject_ids:
                continue
            latest = datetime.fromisoformat(feature["properties"]["fix_time"])
            trail = json_of(
                api.get(
                    f"/subjects/{subject_id}/trail",
                    params={
                        "start": (latest - timedelta(hours=6)).isoformat(),
                        "end": (latest + timedelta(minutes=1)).isoformat(),
                        "valid_only": "true",
                        "purpose_code": "investigation",
                        "purpose": "choosing a subject to replay",
                    },
                )
            )
            points = [
                f["geometry"]["coordinates"]
                for f in trail["features"]
                if f["properties"].get("kind") == "fix" and f["geometry"]
            ]
            if len(points) >= 3:
                (x0, y0), (x1, y1) = points[0][:2], points[-1][:2]
                travelled[subject_id] = (x1 - x0) ** 2 + (y1 - y0) ** 2
    assert travelled, "the simulator should have given some subject a trail"
    return max(travelled, key=lambda subject_id: travelled[subject_id])


def test_a_subjects_trail_replays_with_the_slider(page: Page, live_server: LiveServer) -> None:
    subject_id = _farthest_travelled(live_server)
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/app/#/subject/{subject_id}")
    expect(page.locator("#h-trail")).to_be_visible()
    slider = page.locator("#trail-slider")
    expect(slider).to_be_disabled()  # no trail before a purpose is stated
    page.locator("#trail-purpose-code").select_option("investigation")
    page.locator("#trail-purpose").fill("incident 2026/1142")
    page.locator("#trail-load").click()
    expect(slider).to_be_enabled()
    last = int(slider.get_attribute("max") or "0")
    assert last >= 2, "the simulator's trail should have several fixes"
    marker = page.locator("#trail-map path.leaflet-interactive[fill='#12355b']")
    before = marker.get_attribute("d")
    shown_before = page.locator("#trail-time").inner_text()

    slider.focus()
    page.keyboard.press("End")
    expect(page.locator("#trail-time")).to_contain_text(f"{last + 1}/{last + 1}")
    assert marker.get_attribute("d") != before
    assert page.locator("#trail-time").inner_text() != shown_before

    page.keyboard.press("Home")
    page.locator("#trail-speed").select_option("4")
    page.locator("#trail-play").click()
    expect(page.locator("#trail-play")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#trail-time")).not_to_contain_text(" 1/")
    page.locator("#trail-play").click()
    expect(page.locator("#trail-play")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("button[data-export=gpx]")).to_be_visible()
    screenshot(page, "subject")


def test_a_polygon_exclusion_zone_with_a_schedule_is_previewed_and_saved(
    page: Page, live_server: LiveServer
) -> None:
    subject_id = live_server.subject_ids[0]
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/app/#/editor/{subject_id}")
    expect(page.locator("#zone-form")).to_be_visible()
    box = page.locator("#editor-map").bounding_box()
    assert box is not None
    page.locator("#draw-polygon").click()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    corners = [(cx - 80, cy - 60), (cx + 80, cy - 60), (cx + 90, cy + 60), (cx - 70, cy + 70)]
    for x, y in [*corners, corners[0]]:
        page.mouse.click(x, y)
        page.wait_for_timeout(150)
    expect(page.locator("#draw-status")).to_contain_text("polygon of 4 corners")

    page.locator("#zone-name").fill("E2E park")
    page.locator("#kind-exclusion").check()
    page.locator("#zone-buffer").fill("50")
    page.locator("#add-window").click()
    window = page.locator(".window-row").first
    window.locator(".w-day").select_option("4")  # Friday
    window.locator(".w-start").fill("19:00")
    window.locator(".w-end").fill("07:00")  # overnight into Saturday
    page.locator("#schedule-first-day").fill("2026-01-01")
    page.locator("#add-exception").click()
    exception = page.locator(".exception-row").first
    exception.locator(".x-start").fill("2026-12-25T00:00")
    exception.locator(".x-end").fill("2026-12-26T00:00")
    exception.locator(".x-reason").fill("Christmas")

    page.locator("#zone-preview").click()
    expect(page.locator("#preview-count")).to_contain_text("alert")
    screenshot(page, "editor", for_readme=True)
    page.locator("#zone-save").click()
    expect(page.locator("#flash")).to_contain_text("Zone saved: E2E park")

    saved_id = page.locator("#zone-form").get_attribute("data-saved-id")
    with live_server.client() as api:
        zone = json_of(api.get(f"/zones/{saved_id}"))
    assert zone["geometry"]["type"] == "Polygon"
    assert len(zone["geometry"]["coordinates"][0]) == 5  # four corners, closed
    properties = zone["properties"]
    assert properties["subject_id"] == subject_id
    assert properties["kind"] == "exclusion"
    assert properties["name"] == "E2E park"
    assert properties["warning_buffer_m"] == 50
    schedule = properties["schedule"]
    assert schedule["always"] is False
    assert [(w["weekday"], w["start"][:5], w["end"][:5]) for w in schedule["windows"]] == [
        (4, "19:00", "07:00")
    ]
    assert schedule["first_day"] == "2026-01-01"
    assert schedule["time_zone"] == "Europe/London"
    assert len(schedule["exceptions"]) == 1
    assert schedule["exceptions"][0]["reason"] == "Christmas"
    # 2026-12-25 00:00 in London is midnight GMT.
    assert schedule["exceptions"][0]["start"].startswith("2026-12-25T00:00:00")

    # Loading it back for editing brings back its whole schedule, exceptions included.
    page.locator(f"#existing-zones button[data-zone='{saved_id}']").click()
    expect(page.locator(".window-row .w-start")).to_have_value("19:00")
    expect(page.locator(".exception-row .x-reason")).to_have_value("Christmas")
    expect(page.locator(".exception-row .x-start")).to_have_value("2026-12-25T00:00")


def test_a_circle_inclusion_zone_is_drawn_saved_and_then_edited(
    page: Page, live_server: LiveServer
) -> None:
    subject_id = live_server.subject_ids[1]
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/app/#/editor/{subject_id}")
    box = page.locator("#editor-map").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 3, box["y"] + box["height"] / 3
    page.locator("#draw-circle").click()
    page.mouse.click(cx, cy)
    page.mouse.move(cx + 40, cy, steps=5)
    page.mouse.click(cx + 60, cy)
    expect(page.locator("#draw-status")).to_contain_text("circle of")
    page.locator("#zone-name").fill("E2E home area")
    page.locator("#kind-inclusion").check()
    page.locator("#zone-save").click()
    expect(page.locator("#flash")).to_contain_text("Zone saved: E2E home area (inclusion)")
    saved_id = page.locator("#zone-form").get_attribute("data-saved-id")
    with live_server.client() as api:
        zone = json_of(api.get(f"/zones/{saved_id}"))
    assert zone["geometry"]["type"] == "Point"
    assert zone["geometry"]["radius_m"] > 0
    assert zone["properties"]["kind"] == "inclusion"
    assert zone["properties"]["schedule"]["always"] is True

    # Edit it: load it from the list, rename it, save: the same zone changes (PATCH).
    page.locator(f"#existing-zones button[data-zone='{saved_id}']").click()
    expect(page.locator("#editor-title")).to_contain_text("Editing zone E2E home area")
    page.locator("#zone-name").fill("E2E home area, widened")
    page.locator("#zone-save").click()
    expect(page.locator("#flash")).to_contain_text("Zone saved: E2E home area, widened")
    with live_server.client() as api:
        zones = json_of(api.get("/zones", params={"subject_id": subject_id}))["features"]
    names = {z["id"]: z["properties"]["name"] for z in zones}
    assert names[saved_id] == "E2E home area, widened"
    assert list(names.values()).count("E2E home area, widened") == 1


@pytest.mark.parametrize(
    ("london", "utc"),
    [
        ("2026-01-15T19:00", "2026-01-15T19:00:00.000Z"),  # GMT
        ("2026-07-15T19:00", "2026-07-15T18:00:00.000Z"),  # BST
        ("2026-03-29T00:30", "2026-03-29T00:30:00.000Z"),  # just before clocks go forward
        ("2026-03-29T02:30", "2026-03-29T01:30:00.000Z"),  # just after
        ("2026-10-25T00:30", "2026-10-24T23:30:00.000Z"),  # BST, the night clocks go back
        ("2026-10-25T02:30", "2026-10-25T02:30:00.000Z"),  # GMT again
    ],
)
def test_the_page_reads_and_shows_times_in_london_whatever_the_browsers_zone(
    page: Page, live_server: LiveServer, london: str, utc: str
) -> None:
    page.goto(f"{live_server.url}/app/")
    converted = page.evaluate(
        """async ([london]) => {
            const f = await import("./js/format.js");
            const instant = f.fromLondon(london);
            return [instant.toISOString(), f.toLondonInput(instant), f.when(instant.toISOString())];
        }""",
        [london],
    )
    assert converted[0] == utc
    assert converted[1] == london
    zone_name = "GMT" if utc[11:13] == london[11:13] else "BST"
    assert converted[2].endswith(zone_name), converted[2]


def test_a_curfew_with_an_overnight_timetable_is_previewed_and_saved(
    page: Page, live_server: LiveServer
) -> None:
    subject_id = live_server.subject_ids[2]
    with live_server.client() as api:
        before = {c["id"] for c in json_of(api.get("/curfews", params={"subject_id": subject_id}))}
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/app/#/editor/{subject_id}")
    box = page.locator("#editor-map").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6
    page.locator("#draw-circle").click()
    page.mouse.click(cx, cy)
    page.mouse.move(cx + 30, cy, steps=5)
    page.mouse.click(cx + 40, cy)
    page.locator("#kind-curfew").check()
    page.locator("#add-window").click()
    window = page.locator(".window-row").first
    window.locator(".w-day").select_option("all")
    window.locator(".w-start").fill("19:00")
    window.locator(".w-end").fill("07:00")
    page.locator("#zone-preview").click()
    expect(page.locator("#preview-count")).to_contain_text("alert")
    page.locator("#zone-save").click()
    expect(page.locator("#flash")).to_contain_text("Curfew saved")

    with live_server.client() as api:
        curfews = json_of(api.get("/curfews", params={"subject_id": subject_id}))
    added = [c for c in curfews if c["id"] not in before]
    assert len(added) == 1
    assert added[0]["address"]["type"] == "Point"
    windows = {
        (w["weekday"], w["start"][:5], w["end"][:5]) for w in added[0]["schedule"]["windows"]
    }
    assert windows == {(day, "19:00", "07:00") for day in range(7)}


# Location reads as the server's access log shows them, and the audit action each must
# leave (tagwatch.service.queries / live): a trail read for a stated purpose is trail.read,
# or export.read when it leaves as a file; zone and curfew previews read the trail too.
_LOCATION_READS = [
    (re.compile(r'"GET /api/v1/positions/near[?\s]'), ("search.near",)),
    (re.compile(r'"GET /api/v1/positions[?\s]'), ("position.read",)),
    (
        re.compile(
            r'"(GET /api/v1/subjects/[^/\s]+/trail|POST /api/v1/subjects/[^/\s]+/'
            r"(zone|curfew)-preview)[?\s]"
        ),
        ("trail.read", "export.read"),
    ),
    (re.compile(r'"GET /api/v1/stream[?\s]'), ("stream.subscribe",)),
]
_ANSWERED = re.compile(r'HTTP/[\d.]+" 200\b')


def _audited(server: LiveServer, action: str) -> int:
    count, after = 0, 0
    with server.client() as api:
        while True:
            page = json_of(
                api.get("/audit", params={"action": action, "after_seq": after, "limit": 1000})
            )
            count += len(page["records"])
            if not page["records"] or page["next_after_seq"] is None:
                return count
            after = page["next_after_seq"]


def test_every_location_read_of_the_suite_left_an_audit_record(live_server: LiveServer) -> None:
    """Runs last in this module: every location read the dashboard (and the tests) made
    against the live server, counted from its access log, has its audit record."""
    served = live_server.log.read_text(errors="replace").splitlines()
    for pattern, actions in _LOCATION_READS:
        reads = sum(1 for line in served if pattern.search(line) and _ANSWERED.search(line))
        audited = sum(_audited(live_server, action) for action in actions)
        assert reads > 0 or actions == ("search.near",), f"no {actions} reads in the suite?"
        # The log is read first, so reads made since can only add audit records.
        assert audited >= reads, f"{reads} {actions} reads but {audited} audit records"
