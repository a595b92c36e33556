"""Every page of the application, per role, for the accessibility and layout pass
(test_accessibility.py): the routes come from the URL resolver (tests/test_isolation.py's
walk), each one a role's permissions allow is a page to check unless NOT_PAGES says a GET
answers with a file, a redirect or 405. The demo organisation, with a closed month, a month in
review with disputes, and one of each object the demo does not make (an alias, a re-pricing
run, an ingestion key, a model approval, a second price version, a future policy), fills the
routes' ids."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import FieldError
from django.urls import get_resolver

from chargeback.allocation.policy import parse_policy
from chargeback.billing.models import StatementLine
from chargeback.billing.policy_versions import save_policy
from chargeback.budgets.models import Webhook
from chargeback.calendar import Period
from chargeback.gateway.approvals import approve_model
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.pricing.models import ModelAlias, PriceVersion
from chargeback.provisioning.demo_billing import demo_policy
from chargeback.reconciliation.export_jobs import run as run_export_job
from chargeback.reconciliation.models import ExportJob
from chargeback.tenancy.models import Organization
from chargeback.tenancy.permissions import role_has_perm
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit
from chargeback.usage.keys import create_key
from chargeback.usage.repricing import reprice_range
from tests.test_isolation import ROUTES, Route, _model_for

ACTOR = "test:accessibility"
# role -> the login it uses; the team lead leads Support (SUP and its two teams).
LOGINS = {
    "admin": "admin@acme.example",
    "finance": "finance@acme.example",
    "team_lead": "lead.support@acme.example",
    "viewer": "viewer@acme.example",
}
ANONYMOUS = "anonymous"
SUPPORT_UNITS = ["SUP", "SUP-T1", "SUP-AUTO"]

# Routes whose GET is not a page: a download, a redirect, or an action that only takes POST.
NOT_PAGES = {
    "logout",  # POST only
    "home",  # redirects to the organisation
    "dashboards:events-export",  # CSV
    "dashboards:export-download",  # a prepared export: CSV, NDJSON or FOCUS
    "units:rule-move",  # POST only
    "units:config-apply",  # POST only
    "units:config-download",  # YAML
    "usage:batch-retry",  # POST; a GET goes back to the batch
    "usage:quarantine-replay",  # POST only
    "usage:quarantine-replay-all",  # POST; a GET goes back to the list
    "usage:quarantine-discard",  # POST; a GET goes back to the list
    "usage:quarantine-fix",  # POST only
    "pricing:price-export",  # CSV
    "pricing:price-import-apply",  # POST only
    "billing:period-draft",  # POST only
    "billing:period-progress",  # a GET goes back to the period
    "billing:period-pdfs",  # ZIP
    "billing:period-csv",  # CSV
    "billing:statement-pdf",  # PDF
    "billing:statement-csv",  # CSV
    "billing:line-events-csv",  # CSV
    "wallets:wallet-csv",  # CSV
    "gateway:decision-csv",  # CSV
    "disputes:dispute-act",  # POST only
    "schema",  # the OpenAPI document
    "health",  # JSON for monitors
    "health-web",  # JSON for monitors
    "api-docs",  # Swagger UI, drf-spectacular's own page (test_csp_pages.py opens it)
}
# Pages outside an organisation: who opens them.
PUBLIC_PAGES = {
    "login": [ANONYMOUS],
    "password_reset_confirm": [ANONYMOUS],  # an invalid link: the page says so
    "password_reset_complete": [ANONYMOUS],
    "org-list": list(LOGINS),
    "password_change": list(LOGINS),
    "password_change_done": list(LOGINS),
}
# Pages a role's permission admits but the view refuses it (404): the test checks they still do.
REFUSED = {
    ("viewer", "disputes:dispute-new"),  # a viewer may read statements but disputes none
}
# Query strings a page needs to show anything.
QUERIES = {"pricing:version-diff": "?a=1&b=2"}


@dataclass(frozen=True)
class Page:
    role: str
    name: str  # the route's name, e.g. "billing:statement-detail"
    route: Route

    @property
    def id(self) -> str:
        return f"{self.role}-{self.name}"

    @property
    def refused(self) -> bool:
        return (self.role, self.name) in REFUSED

    @property
    def file_name(self) -> str:
        return self.name.replace(":", "-")


def required_permission(route: Route) -> str | None:
    fake = {k: ("x" if k == "org_slug" else 1) for k in route.kwargs}
    view = get_resolver().resolve(route.url({**fake, "uidb64": "Mg", "token": "x"})).func
    return getattr(getattr(view, "view_class", view), "required_permission", None)


def _is_candidate(route: Route) -> bool:
    return not route.template.startswith(("api/", "admin/")) and route.name not in NOT_PAGES


def pages() -> list[Page]:
    """Every (role, page) pair: a tenant page for each role holding its permission, and the
    public pages for the roles PUBLIC_PAGES names."""
    found = []
    for role in [*LOGINS, ANONYMOUS]:
        for route in ROUTES:
            if not _is_candidate(route):
                continue
            if "org_slug" in route.kwargs:
                perm = required_permission(route)
                if role != ANONYMOUS and perm and role_has_perm(role, perm):
                    found.append(Page(role, route.name, route))
            elif role in PUBLIC_PAGES.get(route.name, ()):
                found.append(Page(role, route.name, route))
    return found


def unclassified_routes() -> list[str]:
    """Routes outside the tenant tree that neither PUBLIC_PAGES nor NOT_PAGES mentions."""
    return [
        r.name
        for r in ROUTES
        if _is_candidate(r) and "org_slug" not in r.kwargs and r.name not in PUBLIC_PAGES
    ]


def add_what_the_demo_lacks(org: Organization) -> None:
    """One of each object with a page that the demo does not create."""
    today = dt.datetime.now(dt.UTC).astimezone(org.tz).date()
    current = Period.of(today)
    with within(org):
        sup_auto = BusinessUnit.objects.get(organization=org, code="SUP-AUTO")
        ModelAlias.objects.create(
            organization=org,
            raw="gpt4o-mini-prod",
            canonical_provider="openai",
            canonical_model="gpt-4o-mini",
        )
        approve_model(
            organization=org, unit=sup_auto, provider="openai", model="gpt-4o", actor=ACTOR
        )
        create_key(organization=org, name="Support gateway log shipper", actor=ACTOR)
        Webhook.objects.create(
            organization=org,
            name="Finance channel",
            url="https://hooks.example.com/finance",
            secret="s3cret-for-signing",
        )
        first = PriceVersion.objects.filter(organization=org).order_by("number").first()
        rows = parse_prices(
            "provider,model,effective_from,input_per_1m,output_per_1m,currency,source\n"
            f"openai,gpt-4o-mini,{current.next.first},0.20,0.70,USD,list price change\n"
        )
        import_prices(org, rows, actor=ACTOR, label="Next month's list prices")
        assert first is not None and first.number == 1
        reprice_range(
            organization=org,
            first_day=current.first,
            last_day=today,
            note="Re-price this month with the new list",
            actor=ACTOR,
        )
        # A prepared export of Support's events this month (the team lead may see it too).
        support = BusinessUnit.objects.filter(organization=org, code__in=SUPPORT_UNITS)
        job = ExportJob.objects.create(
            organization=org,
            params={"format": "csv", "focus_version": "1.3", "first": str(current.first),
                    "last": str(today), "unit_ids": sorted(u.pk for u in support)},
            filename="support-events.csv",
        )  # fmt: skip
        run_export_job(job.pk, org)
        # A policy from next month on: one version that may still be edited.
        save_policy(
            organization=org,
            policy=parse_policy(demo_policy(current.next.label)),
            actor=ACTOR,
        )


def _first(model, org: Organization):
    """The first of the organisation's objects, one of Support's where the model has a unit
    (the team lead's), the newest where it has none (the future policy, the second price
    version, the month in review)."""
    objects = model.objects.filter(organization=org)
    for lookup in ("code", "unit__code", "statement__unit__code"):
        try:
            own = objects.filter(**{f"{lookup}__in": SUPPORT_UNITS}).order_by("pk").first()
        except FieldError:
            continue
        if own is not None:
            return own
    return objects.order_by("-pk").first()


def url_of(page: Page, org: Organization) -> str | None:
    """The page's path, its ids filled with the organisation's objects; None when an object
    it needs does not exist."""
    values: dict[str, object] = {"org_slug": org.slug, "uidb64": "Mg", "token": "expired"}
    with within(org):
        if page.name == "billing:line-events":  # a line and its own statement
            line = _first(StatementLine, org)
            if line is None:
                return None
            values |= {"statement_id": line.statement_id, "line_id": line.pk}
        for kwarg in page.route.kwargs:
            if kwarg in values:
                continue
            model = _model_for(page.route, kwarg)
            obj = _first(model, org) if model is not None else None
            if obj is None:
                return None
            values[kwarg] = obj.pk
    return page.route.url(values) + QUERIES.get(page.name, "")
