"""Tenant isolation, walked over every route the URL resolver knows.

Routes are enumerated from the resolver, so a route added later is covered without editing
this file. Each URL kwarg is filled from FILL (or OBJECT_MODELS for generic `object_id`
routes); a route with a kwarg this file cannot fill fails `test_every_route_can_be_filled`.
Org B's data exists, so a leak would show its names in a body."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.contrib.admin.sites import site as admin_site
from django.urls import URLPattern, URLResolver, get_resolver

from chargeback.allocation.models import AllocationPolicy
from chargeback.billing.models import BillingPeriod, OutcomeCount, Statement, StatementLine
from chargeback.disputes.models import Dispute
from chargeback.gateway.models import ModelApproval
from chargeback.pricing.models import ModelAlias, PriceVersion, RepricingRun
from chargeback.reconciliation.models import ExportJob, ProviderInvoice
from chargeback.tenancy.models import Membership, Role
from chargeback.tenancy.scoping import within
from chargeback.units.models import (
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)
from chargeback.usage.models import IngestBatch, IngestionKey, QuarantinedEvent
from chargeback.wallets.models import Wallet

SECRETS = ("bravo", "bsecret", "boss@", "proj_bravo", "gk-bravo")
ROLES = ("admin", "finance", "team_lead", "viewer")
# url-name entity -> model, for generic views whose kwarg is `object_id`
OBJECT_MODELS = {
    "service": Service,
    "gatewaykey": GatewayKey,
    "provideraccount": ProviderAccount,
    "rule": OwnershipRule,
}
ID_KWARGS = {
    "unit_id": BusinessUnit,
    "member_id": Membership,
    "object_id": None,
    "batch_id": IngestBatch,
    "quarantine_id": QuarantinedEvent,
    "ingestion_key_id": IngestionKey,
    "version_id": PriceVersion,
    "alias_id": ModelAlias,
    "run_id": RepricingRun,
    "period_id": BillingPeriod,
    "statement_id": Statement,
    "line_id": StatementLine,
    "policy_id": AllocationPolicy,
    "outcome_id": OutcomeCount,
    "wallet_id": Wallet,
    "dispute_id": Dispute,
    "approval_id": ModelApproval,
    "invoice_id": ProviderInvoice,
    "export_id": ExportJob,
}
# Routes outside the tenant tree whose kwargs are not tenant ids: fill with harmless values.
PUBLIC_KWARGS = {"uidb64": "Mg", "token": "set-password"}


@dataclass(frozen=True)
class Route:
    template: str  # e.g. "o/<slug:org_slug>/units/<int:unit_id>/"
    name: str  # "units:unit-detail"

    @property
    def kwargs(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.template)

    def url(self, values: dict[str, object]) -> str:
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), self.template)


def _walk(patterns, prefix: str = "", namespace: str = "") -> list[Route]:
    routes: list[Route] = []
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.app_name == "admin" or getattr(p, "urlconf_module", None) is admin_site.urls[0]:
                continue
            ns = namespace
            if p.namespace:
                ns = f"{namespace}{p.namespace}:"
            routes += _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            routes.append(Route(prefix + str(p.pattern), f"{namespace}{p.name}"))
    return routes


ROUTES = [r for r in _walk(get_resolver().url_patterns) if not r.template.startswith("admin/")]
TENANT_ROUTES = [r for r in ROUTES if "org_slug" in r.kwargs]


def _model_for(route: Route, kwarg: str):
    if kwarg == "object_id":
        entity = route.name.split(":")[-1].rsplit("-", 1)[0]
        return OBJECT_MODELS.get(entity)
    return ID_KWARGS.get(kwarg)


def test_every_route_can_be_filled():
    assert len(TENANT_ROUTES) >= 20
    unfillable = []
    for route in ROUTES:
        for kwarg in route.kwargs:
            if kwarg == "org_slug" or kwarg in PUBLIC_KWARGS:
                continue
            if _model_for(route, kwarg) is None:
                unfillable.append(f"{route.name} ({route.template}): {kwarg}")
    assert unfillable == []


def test_tenant_routes_lie_where_the_tenant_middleware_looks():
    """TenantMiddleware resolves only paths under ORG_PREFIXES; a route with an org_slug
    elsewhere would run with no organisation (and 404 on every request)."""
    from chargeback.tenancy.middleware import ORG_PREFIXES

    outside = [r.template for r in TENANT_ROUTES if not ("/" + r.template).startswith(ORG_PREFIXES)]
    assert outside == []


BRAVO_PRICES = (
    "provider,model,effective_from,input_per_1m,output_per_1m,currency,source\n"
    "openai,bravo-secret-model,2026-01-01,1,2,EUR,bravo secret price list\n"
)


def _foreign_ids(org) -> dict[type, int]:
    """Org B's objects of every kind a route can name (created on first use, in org B's
    scope)."""
    from chargeback.pricing.books import import_prices, parse_prices
    from chargeback.usage.ingest import create_batch, process_batch
    from chargeback.usage.keys import create_key

    with within(org):
        batch = IngestBatch.objects.filter(organization=org).first() or create_batch(
            organization=org,
            payload=b'{"request_id": "bravo-secret-req"}\n',
            fmt="ndjson",
            source="api",
        )
        process_batch(batch.pk)  # quarantines the record: it lacks required fields
        key = IngestionKey.objects.filter(organization=org).first()
        if key is None:
            key, _secret = create_key(organization=org, name="bravo secret key", actor="test")
        version = PriceVersion.objects.filter(organization=org).first()
        if version is None:
            version, _ = import_prices(
                org, parse_prices(BRAVO_PRICES), actor="test", label="bravo secret"
            )
        alias = ModelAlias.objects.filter(organization=org).first() or ModelAlias.objects.create(
            organization=org,
            raw="bravo-secret-alias",
            canonical_provider="openai",
            canonical_model="bravo-secret-model",
        )
        run = RepricingRun.objects.filter(organization=org).first() or RepricingRun.objects.create(
            organization=org,
            first_day="2026-10-01",
            last_day="2026-10-31",
            note="bravo secret run",
            created_by="boss@bravo.example",
        )
        statement = _foreign_statement(org)
        policy = AllocationPolicy.objects.filter(organization=org).first()
        if policy is None:
            policy = AllocationPolicy.objects.create(
                organization=org, effective_from="2026-09-01", document={"charge_basis": "request"}
            )
        outcome = OutcomeCount.objects.filter(organization=org).first()
        if outcome is None:
            outcome = OutcomeCount.objects.create(
                organization=org,
                unit=statement.unit,
                month="2026-10-01",
                outcome="bravo_secret_outcome",
                count=7,
            )
        wallet = Wallet.objects.filter(organization=org).first() or Wallet.objects.create(
            organization=org, unit=statement.unit, kind="team", currency=org.currency
        )
        dispute = Dispute.objects.filter(organization=org).first()
        if dispute is None:
            dispute = Dispute.objects.create(
                organization=org,
                statement=statement,
                unit=statement.unit,
                reason="other",
                amount="12.34",
                description="bravo secret dispute",
                opened_by=Membership.objects.filter(organization=org).first().user,
                opened_on="2026-11-02",
                respond_by="2026-11-09",
            )
        approval = ModelApproval.objects.filter(organization=org).first()
        if approval is None:
            approval = ModelApproval.objects.create(
                organization=org,
                unit=statement.unit,
                provider="openai",
                model="bravo-secret-model",
                approved_by="boss@bravo.example",
            )
        invoice = ProviderInvoice.objects.filter(organization=org).first()
        if invoice is None:
            invoice = ProviderInvoice.objects.create(
                organization=org, provider="openai", month="2026-10-01", currency=org.currency,
                source="manual", total="99.99", created_by="boss@bravo.example",
            )  # fmt: skip
        job = ExportJob.objects.filter(organization=org).first()
        if job is None:
            job = ExportJob.objects.create(
                organization=org, params={"format": "csv", "unit_ids": None},
                filename="bravo-secret-events.csv", status="done",
            )  # fmt: skip
        return {
            ExportJob: job.pk,
            ModelApproval: approval.pk,
            ProviderInvoice: invoice.pk,
            Wallet: wallet.pk,
            Dispute: dispute.pk,
            BillingPeriod: statement.period_id,
            Statement: statement.pk,
            StatementLine: statement.lines.get().pk,
            AllocationPolicy: policy.pk,
            OutcomeCount: outcome.pk,
            RepricingRun: run.pk,
            IngestBatch: batch.pk,
            QuarantinedEvent: QuarantinedEvent.objects.filter(organization=org).get().pk,
            IngestionKey: key.pk,
            PriceVersion: version.pk,
            ModelAlias: alias.pk,
            BusinessUnit: BusinessUnit.objects.filter(organization=org, code="BSECRET").get().pk,
            Membership: Membership.objects.filter(organization=org).first().pk,
            Service: Service.objects.filter(organization=org).first().pk,
            GatewayKey: GatewayKey.objects.filter(organization=org).first().pk,
            ProviderAccount: ProviderAccount.objects.filter(organization=org).first().pk,
            OwnershipRule: OwnershipRule.objects.filter(organization=org).first().pk,
        }


def _foreign_statement(org) -> Statement:
    """An issued statement of org B, with one line."""
    with within(org):
        statement = Statement.objects.filter(organization=org).first()
        if statement is not None:
            return statement
        period = BillingPeriod.objects.create(
            organization=org, month="2026-10-01", state="open", draft_status="done"
        )
        unit = BusinessUnit.objects.filter(organization=org, code="BSECRET").get()
        statement = Statement.objects.create(
            organization=org,
            period=period,
            unit=unit,
            number="BRAVO-2026-10-0001",
            sequence=1,
            mode="chargeback",
            status="draft",
            currency=org.currency,
            total="123.45",
            evidence={"driver": "bravo secret driver"},
        )
        StatementLine.objects.create(
            organization=org,
            statement=statement,
            position=1,
            kind="usage",
            description="bravo secret usage",
            amount="123.45",
            ref="openai/bravo-secret-model",
        )
        # Issued as the close does it: PostgreSQL's triggers refuse lines in an issued one.
        Statement.objects.filter(pk=statement.pk).update(status="issued")
        BillingPeriod.objects.filter(pk=period.pk).update(state="in_review")
        statement.refresh_from_db()
        return statement


def _values(route: Route, slug: str, ids: dict[type, int]) -> dict[str, object]:
    values: dict[str, object] = {"org_slug": slug, **PUBLIC_KWARGS}
    for kwarg in route.kwargs:
        model = _model_for(route, kwarg)
        if model is not None:
            values[kwarg] = ids[model]
    return values


def _body(response) -> bytes:
    """The body, a streamed one (the events export) read whole."""
    return b"".join(response.streaming_content) if response.streaming else response.content


# The CSRF token is 64 random letters and digits: now and then it spells a name searched for
# ("bravo", "zulu"; case aside).
CSRF_TOKENS = re.compile(r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[A-Za-z0-9]+')


def page_text(response) -> str:
    """The body as lower-case text to search for names, its CSRF tokens taken out."""
    return CSRF_TOKENS.sub(r"\1", _body(response).decode("utf-8", "replace")).lower()


def _assert_no_leak(response, route: Route, who: str) -> None:
    body = page_text(response)
    leaked = [s for s in SECRETS if s in body]
    assert leaked == [], f"{who} {route.name}: body shows {leaked}"


@pytest.fixture
def personas(admin, finance, team_lead, viewer):
    return {"admin": admin, "finance": finance, "team_lead": team_lead, "viewer": viewer}


@pytest.mark.parametrize("role", ROLES)
def test_foreign_org_slug_is_404_everywhere(client, org_b, personas, role):
    client.force_login(personas[role].user)
    ids = _foreign_ids(org_b)
    for route in TENANT_ROUTES:
        url = route.url(_values(route, org_b.slug, ids))
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 404, (
                f"{role} {method.upper()} {url}: {response.status_code}"
            )
            _assert_no_leak(response, route, role)


@pytest.mark.parametrize("role", ROLES)
def test_foreign_ids_in_own_org_are_404_or_403(client, org_a, org_b, personas, role):
    client.force_login(personas[role].user)
    ids = _foreign_ids(org_b)
    checked = 0
    for route in TENANT_ROUTES:
        has_ids = any(k != "org_slug" for k in route.kwargs)
        url = route.url(_values(route, org_a.slug, ids))
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if has_ids:
                checked += 1
                assert response.status_code in (403, 404, 405), (
                    f"{role} {method.upper()} {url}: {response.status_code}"
                )
                if response.status_code == 403:
                    assert not personas[role].has_perm(_required_permission(route)), url
            else:
                assert response.status_code < 500, (
                    f"{role} {method.upper()} {url}: {response.status_code}"
                )
            _assert_no_leak(response, route, role)
    assert checked > 0


def _required_permission(route: Route) -> str:
    view = get_resolver().resolve(route.url(_fake_values(route))).func
    view = getattr(view, "view_class", view)
    perm = getattr(view, "required_permission", None)
    assert perm, f"{route.name} declares no permission"
    return perm


def _fake_values(route: Route) -> dict[str, object]:
    return {k: ("x" if k == "org_slug" else PUBLIC_KWARGS.get(k, 1)) for k in route.kwargs}


def test_every_tenant_route_declares_a_permission():
    missing = []
    for route in TENANT_ROUTES:
        view = get_resolver().resolve(route.url(_fake_values(route))).func
        view = getattr(view, "view_class", view)
        if not getattr(view, "required_permission", None):
            missing.append(route.name)
    assert missing == []


def test_outsider_and_anonymous_get_nothing(client, org_a, org_b, outsider):
    ids = _foreign_ids(org_b)
    for route in TENANT_ROUTES:
        url = route.url(_values(route, org_a.slug, ids))
        anonymous = client.get(url)
        assert anonymous.status_code in (302, 401), f"anonymous {url}: {anonymous.status_code}"
        _assert_no_leak(anonymous, route, "anonymous")
    client.force_login(outsider)
    for route in TENANT_ROUTES:
        url = route.url(_values(route, org_a.slug, ids))
        response = client.get(url)
        assert response.status_code == 404, f"outsider {url}: {response.status_code}"
        _assert_no_leak(response, route, "outsider")


def test_public_routes_leak_nothing(client, org_b, personas):
    ids = _foreign_ids(org_b)
    for role, membership in personas.items():
        client.force_login(membership.user)
        for route in ROUTES:
            if "org_slug" in route.kwargs:
                continue
            values = _values(route, "", ids)
            for method in ("get", "post"):
                response = getattr(client, method)(route.url(values))
                assert response.status_code < 500, (
                    f"{role} {route.template}: {response.status_code}"
                )
                if any(k in ID_KWARGS for k in route.kwargs):
                    assert response.status_code in (401, 403, 404, 405), f"{role} {route.template}"
                _assert_no_leak(response, route, role)


def test_key_routes_answer_404_for_foreign_ids(client, org_a, org_b):
    """Key-authenticated routes take the organisation from the key: org A's key and org B's ids."""
    from chargeback.usage.keys import create_key

    ids = _foreign_ids(org_b)
    with within(org_a):
        _key, secret = create_key(organization=org_a, name="alpha gateway", actor="test")
    key_routes = [
        r for r in ROUTES if r.template.startswith("api/v1/") and "org_slug" not in r.kwargs
    ]
    assert key_routes
    for route in key_routes:
        values = _values(route, "", ids)
        if not any(k in ID_KWARGS for k in route.kwargs):
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(
                route.url(values), HTTP_AUTHORIZATION=f"Bearer {secret}"
            )
            assert response.status_code in (404, 405), (
                f"{method.upper()} {route.template}: {response.status_code}"
            )
            _assert_no_leak(response, route, "alpha key")


def test_team_lead_cannot_reach_units_outside_its_subtree(
    client, org_a, org_b, team_lead, viewer, unit_tree
):
    """The lead leads SALES-EU (and so SALES-DE); SALES and SUPPORT are outside its reach.
    Objects that belong to no unit (batches, prices...) are org B's here: out of reach too."""
    from tests import factories as f

    assert team_lead.role == Role.TEAM_LEAD
    outside = unit_tree["support"]
    ids = {
        **_foreign_ids(org_b),
        BusinessUnit: outside.pk,
        Membership: viewer.pk,
        Service: f.ServiceFactory(organization=org_a, unit=outside, name="support-only").pk,
        GatewayKey: f.GatewayKeyFactory(
            organization=org_a, unit=outside, key_id="gk-support-only"
        ).pk,
        ProviderAccount: f.ProviderAccountFactory(
            organization=org_a, unit=outside, account="proj_support_only"
        ).pk,
        OwnershipRule: f.OwnershipRuleFactory(
            organization=org_a, unit=outside, match_service="support-only"
        ).pk,
    }
    client.force_login(team_lead.user)
    hidden = ("support-only", "proj_support_only", "gk-support-only")
    for route in TENANT_ROUTES:
        url = route.url(_values(route, org_a.slug, ids))
        has_ids = any(k != "org_slug" for k in route.kwargs)
        response = client.get(url)
        if has_ids:
            assert response.status_code in (403, 404, 405), (
                f"team lead GET {url}: {response.status_code}"
            )
        body = _body(response).decode().lower()
        assert [h for h in hidden if h in body] == [], f"team lead sees outside data at {url}"
    listing = client.get(f"/o/{org_a.slug}/units/").content.decode()
    assert "SALES-EU" in listing and "SALES-DE" in listing
    assert "SUPPORT" not in listing and ">Sales<" not in listing


def test_admin_site_is_for_superusers_only(client, admin, outsider):
    client.force_login(admin.user)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    outsider.is_staff = True
    outsider.save()
    client.force_login(outsider)
    assert client.get("/admin/").status_code == 302
    outsider.is_superuser = True
    outsider.save()
    assert client.get("/admin/").status_code == 200
