"""The accessibility and layout pass (issue 18): every page each role can open (site_pages.py
derives them from the URL resolver), at 1366×768 and at 1920×1080. A page fails on

- a horizontal scroll bar (the document wider than its window),
- a console error or an uncaught exception (a script or style the CSP refused included),
- a response of 400 or more, or a failed request, for anything it loads,
- an axe-core violation of a WCAG 2.0/2.1 A or AA rule (axe-core, vendored in vendor/).

Each page leaves a full-page screenshot at <artifacts>/screenshots/<size>/<role>/<page>.png
(CHARGEBACK_ARTIFACTS_DIR, by default artifacts/ in the checkout; .ci/run keeps them).

The demo organisation is seeded once for the module (a month closed, a month in review) and one
browser context per role and size is logged in once; the module's teardown empties the database
as a transactional test's would."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS
from django.test import override_settings
from django.test.utils import setup_databases, teardown_databases
from playwright.sync_api import Browser, BrowserContext
from playwright.sync_api import Page as Tab
from pytest_django.fixtures import _get_databases_for_setup
from pytest_django.live_server_helper import LiveServer

from chargeback.calendar import Period
from chargeback.provisioning.demo import seed_demo
from chargeback.tenancy.models import Organization, Role
from tests.browser.conftest import log_in
from tests.browser.site_pages import (
    ANONYMOUS,
    LOGINS,
    Page,
    add_what_the_demo_lacks,
    pages,
    unclassified_routes,
    url_of,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

SIZES = {"1366x768": (1366, 768), "1920x1080": (1920, 1080)}
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# After the screenshot, every <details> is opened (table views of charts, the organisation
# switcher, folded help) so that axe checks what they hide too.
RUN_AXE = """async (tags) => {
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
  });
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}: ` +
    v.nodes.slice(0, 5).map((n) => n.target.join(" ")).join(", "));
}"""
WIDTH = "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
PAGES = pages()


@dataclass
class Site:
    url: str
    org: Organization


@dataclass
class Window:
    """One logged-in tab at one size, and what went wrong on it since the last page."""

    context: BrowserContext
    tab: Tab
    problems: list[str] = field(default_factory=list)


def _demo_days(today: dt.date) -> int:
    """Traffic from the first day of the month before last: one month closed, one in review."""
    return (today - Period.of(today).previous.previous.first).days + 1


@pytest.fixture(scope="module")
def test_database(request, django_db_setup, django_db_blocker) -> Iterator[None]:
    """The test database. pytest-django creates it only when a selected test asks for `db` or
    `transactional_db`, and these tests do not (their data lives for the module, not for one
    test): when no other test asked, it is created here, never touching the real one."""
    aliases, _serialized = _get_databases_for_setup(request.session.items)
    if DEFAULT_DB_ALIAS in aliases:
        yield
        return
    with django_db_blocker.unblock():
        created = setup_databases(verbosity=0, interactive=False, aliases={DEFAULT_DB_ALIAS})
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            teardown_databases(created, verbosity=0)


@pytest.fixture(scope="module")
def site(test_database, django_db_blocker) -> Iterator[Site]:
    """The demo organisation and a live server, for the whole module (seeding it for each page
    would take hours). Tasks run in-process, as in the rest of the suite."""
    from chargeback.celery import app  # noqa: PLC0415 (the Celery app configures on import)

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    today = dt.datetime.now(dt.UTC).date()
    with django_db_blocker.unblock(), override_settings(DEMO_TRAFFIC_DAYS=_demo_days(today)):
        try:
            org, _created = seed_demo()
            add_what_the_demo_lacks(org)
            server = LiveServer("localhost")
            server._live_server_modified_settings.enable()  # noqa: SLF001 (as pytest-django does)
            try:
                yield Site(url=server.url, org=org)
            finally:
                _wait_for_requests_to_end()
                server._live_server_modified_settings.disable()  # noqa: SLF001
                server.stop()
        finally:
            call_command("flush", interactive=False, verbosity=0)
            app.conf.task_always_eager = eager


def _wait_for_requests_to_end(seconds: float = 5) -> None:
    """The server's request threads (a browser's keep-alive connections, ending as the contexts
    close) are not joined when it stops; one still running then would use the shared SQLite
    connection after it stopped being shared, and fail in its thread."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(
        "process_request_thread" in thread.name for thread in threading.enumerate()
    ):
        time.sleep(0.05)


@pytest.fixture(scope="module")
def windows(browser: Browser, site: Site) -> Iterator[Callable[[str, str], Window]]:
    """windows(role, size) -> its Window, logged in on first use. Tests run size by size and
    role by role, so one context is open at a time."""
    open_: dict[tuple[str, str], Window] = {}

    def get(role: str, size: str) -> Window:
        if (role, size) in open_:
            return open_[role, size]
        for key in list(open_):
            open_.pop(key).context.close()
        width, height = SIZES[size]
        context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
        window = Window(context, context.new_page())
        _watch(window)
        if role != ANONYMOUS:
            log_in(window.tab, site.url, LOGINS[role])
        open_[role, size] = window
        return window

    yield get
    for window in open_.values():
        window.context.close()


def _watch(window: Window) -> None:
    tab, problems = window.tab, window.problems
    tab.set_default_timeout(15_000)
    tab.set_default_navigation_timeout(30_000)
    tab.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text} ({m.location.get('url')})")
            if m.type == "error"
            else None
        ),
    )
    tab.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    tab.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} for {r.request.method} {r.url}")
            if r.status >= 400
            else None
        ),
    )
    tab.on(
        "requestfailed",
        lambda r: problems.append(f"failed: {r.method} {r.url} ({r.failure})"),
    )


@pytest.fixture(scope="session")
def axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def test_every_role_is_checked() -> None:
    assert set(LOGINS) == set(Role.values)
    assert unclassified_routes() == []
    roles = {page.role for page in PAGES}
    assert roles == {*LOGINS, ANONYMOUS}


@pytest.mark.parametrize(
    ("size", "page"),
    [(size, page) for size in SIZES for page in PAGES],  # size by size, role by role
    ids=[f"{size}-{page.id}" for size in SIZES for page in PAGES],
)
def test_page_is_accessible_and_fits(page: Page, size, site, windows, axe_source, screenshot_dir):
    window = windows(page.role, size)
    path = url_of(page, site.org)
    assert path is not None, f"{page.name}: the demo has nothing to show on it"
    window.problems.clear()
    response = window.tab.goto(site.url + path)
    assert response is not None
    if page.refused:  # site_pages.REFUSED
        assert response.status == 404, f"{path} answered {response.status}, not 404"
        return
    assert response.status == 200, f"{path} answered {response.status}"
    shot = screenshot_dir / size / page.role / f"{page.file_name}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    window.tab.screenshot(path=str(shot), full_page=True)
    scroll, client = window.tab.evaluate(WIDTH)
    window.tab.evaluate(axe_source)
    violations = window.tab.evaluate(RUN_AXE, AXE_TAGS)
    failures = list(window.problems)
    if scroll > client:
        failures.append(f"the page is {scroll} px wide in a {client} px window")
    failures += [f"axe: {v}" for v in violations]
    assert failures == [], f"{page.role} at {size} on {path}:\n" + "\n".join(failures)
