"""Browser tests: Debian's Chromium (never a downloaded one) against pytest-django's live
server, with the demo organisation seeded. One browser per session, one context per test.

Without /usr/bin/chromium the tests skip, unless CHARGEBACK_REQUIRE_BROWSER=1 (set by .ci/run),
in which case they fail."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from chargeback.provisioning.demo import DEMO_PASSWORD, seed_demo

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in CI containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}
# CI keeps <artifacts>/screenshots/; CHARGEBACK_ARTIFACTS_DIR moves it out of the checkout.
ARTIFACTS = Path(
    os.environ.get("CHARGEBACK_ARTIFACTS_DIR") or Path(__file__).resolve().parents[2] / "artifacts"
)
SCREENSHOTS = ARTIFACTS / "screenshots"


def _require_chromium() -> None:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    reason = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CHARGEBACK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; CHARGEBACK_REQUIRE_BROWSER=1 forbids skipping", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright's launch options, pointed at the system Chromium."""
    _require_chromium()
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": VIEWPORT, "locale": "en-US"}


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """A fresh artifacts/screenshots/ per session, so no stale picture survives a run."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


DEMO_TRAFFIC_DAYS = 7


@pytest.fixture
def demo(transactional_db, settings):
    """The demo organisation (acme), committed so the live server's thread sees it. It gets a
    week of demo traffic rather than ninety days: the same pages, a tenth of the seeding time."""
    settings.DEMO_TRAFFIC_DAYS = DEMO_TRAFFIC_DAYS
    org, _created = seed_demo()
    return org


@pytest.fixture
def page(page, live_server, demo):
    """pytest-playwright's page, with short timeouts: a live server on localhost answers fast.
    Every page must work under the Content-Security-Policy: a test fails if the browser
    refused anything for it (an inline script or style, a foreign source)."""
    page.set_default_timeout(10_000)
    page.set_default_navigation_timeout(15_000)
    refused: list[str] = []
    page.on(
        "console",
        lambda m: (
            refused.append(f"{m.text} ({m.location.get('url')}:{m.location.get('lineNumber')})")
            if "Content Security Policy" in m.text
            else None
        ),
    )
    yield page
    assert refused == [], refused


def log_in(page, base_url: str, email: str) -> None:
    """Submits the login form as `email` (a demo login) and waits for the page it lands on."""
    page.goto(f"{base_url}/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert "/accounts/login/" not in page.url, f"login as {email} failed: {page.url}"


@pytest.fixture
def login(page, live_server):
    """login(email) -> submits the login form and waits for the page it lands on."""
    return lambda email: log_in(page, live_server.url, email)


@pytest.fixture
def shoot(page, screenshot_dir):
    """shoot(role, name) -> saves a full-page screenshot as artifacts/screenshots/<role>/<name>.png."""

    def save(role: str, name: str) -> Path:
        path = screenshot_dir / slug(role) / f"{slug(name)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
