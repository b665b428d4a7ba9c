"""Helpers of the dashboard's end-to-end tests (the fixtures are in conftest.py): the
running server's handle, waiting, signing in and screenshots."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx2 as httpx
from playwright.sync_api import Page

from processkit import until as wait_until

T = TypeVar("T")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
BACKLOG = timedelta(hours=2)  # simulated fixes sent at once when the server starts
WAIT_S = 30.0


def until(what: str, probe: Callable[[], T | None], timeout_s: float = WAIT_S) -> T:
    """processkit's wait, with the browser tests' longer default."""
    return wait_until(what, probe, timeout_s)


@dataclass
class LiveServer:
    url: str
    osmand: str
    passwords: dict[str, str]
    subject_ids: list[str]
    log: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    def client(self, user: str = "admin") -> httpx.Client:
        """An API client signed in as `user` (operator or admin)."""
        if user not in self._tokens:
            answer = httpx.post(
                f"{self.url}/api/v1/auth/token",
                data={"username": user, "password": self.passwords[user]},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            self._tokens[user] = answer.json()["access_token"]
        return httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {self._tokens[user]}"},
            timeout=30,
        )

    def osmand_fix(self, device_id: str, lat: float, lon: float, at: datetime) -> None:
        answer = httpx.get(
            self.osmand,
            params={
                "id": device_id,
                "timestamp": f"{at.timestamp():.3f}",
                "lat": f"{lat:.7f}",
                "lon": f"{lon:.7f}",
                "accuracy": "4",
            },
            timeout=10,
        )
        assert answer.status_code == 200, answer.text


def sign_in(page: Page, server: LiveServer, user: str = "admin") -> None:
    page.goto(f"{server.url}/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(server.passwords[user])
    page.get_by_role("button", name="Sign in").click()
    page.locator("#topbar").wait_for(state="visible")
    page.locator("#feed-state.live").wait_for()


def screenshot(page: Page, name: str, *, for_readme: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    # The README's copies change only when asked (TAGWATCH_README_SCREENSHOTS=1), so a
    # test run does not leave the checkout modified.
    if for_readme and os.environ.get("TAGWATCH_README_SCREENSHOTS") == "1":
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_SCREENSHOTS / f"{name}.png")
    return path


def json_of(answer: httpx.Response) -> Any:
    assert answer.status_code in (200, 201), answer.text
    return answer.json()
