"""The dashboard's static files, its config and its security headers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tagwatch.api.web import DashboardSettings, content_security_policy


def test_the_dashboard_is_served_with_security_headers(api: TestClient) -> None:
    root = api.get("/", follow_redirects=False)
    assert root.status_code == 307
    assert root.headers["location"] == "/app/"
    page = api.get("/app/")
    assert page.status_code == 200
    assert '<script src="js/main.js" type="module">' in page.text
    assert "<script>" not in page.text  # nothing inline: the CSP forbids it
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    config = api.get("/app/config.json")
    assert config.json()["time_zone"] == "Europe/London"
    assert api.get("/app/js/main.js").headers["content-type"].startswith("text/javascript")


def test_the_tile_server_is_allowed_for_images_only_when_configured() -> None:
    offline = DashboardSettings.from_env({})
    assert offline.tile_url is None
    assert "img-src 'self' data:;" in content_security_policy(offline)
    osm = DashboardSettings.from_env(
        {"TAGWATCH_TILE_URL": "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png"}
    )
    assert osm.tile_origin() == "https://*.tile.openstreetmap.org"
    csp = content_security_policy(osm)
    assert "img-src 'self' data: https://*.tile.openstreetmap.org;" in csp
    assert "connect-src 'self'" in csp  # tiles are images: nothing else may reach out
    assert DashboardSettings(tile_url="not a url").tile_origin() is None
