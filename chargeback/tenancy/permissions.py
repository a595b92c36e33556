"""Roles map to fixed sets of permission strings. Views declare the string they need."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

READ = {
    "org.view",
    "units.view",
    "pricing.view",
    "statements.view",  # a team lead: its units' statements only
    "budgets.view",  # budgets and forecasts (a team lead: its units')
    "alerts.view",  # budget alerts (a team lead: its units'; owners: their units')
    "wallets.view",  # a team lead: its units' wallets only
}
FINANCE = READ | {
    "audit.view",
    "spend.view_all",
    "usage.view",  # ingest batches and the quarantine
    "usage.ingest",  # upload usage files
    "quarantine.resolve",  # fix, replay, discard
    "statements.view_all",  # every unit's statements
    "billing.close",  # draft, issue and close billing periods
    "policy.view",  # the allocation policy and its versions
    "outcomes.manage",  # post outcome counts for activity rates
    "budgets.manage",  # set budgets, webhooks for alerts, the delivery log
    "wallets.manage",  # fund, top up and transfer between wallets
    "disputes.resolve",  # review, request information, resolve (team leads open disputes on
    # their units' statements: an object rule, disputes.operations.can_reach)
}
ADMIN = FINANCE | {
    "units.manage",
    "members.manage",
    "config.manage",
    "pricing.manage",  # import prices, model aliases
    "keys.manage",  # ingestion keys
    "policy.manage",  # edit the allocation policy
}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(ADMIN),
    "finance": frozenset(FINANCE),
    "team_lead": frozenset(READ),
    "viewer": frozenset(READ | {"spend.view_all", "statements.view_all"}),
}
ALL_PERMISSIONS: frozenset[str] = frozenset().union(*ROLE_PERMISSIONS.values())


def role_has_perm(role: str, perm: str) -> bool:
    if perm not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {perm!r}")
    return perm in ROLE_PERMISSIONS.get(role, frozenset())


def org_permission(perm: str) -> Callable:
    """Require the request's membership (set by TenantMiddleware) to hold `perm`; else 403."""
    if perm not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {perm!r}")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            membership = getattr(request, "membership", None)
            if membership is None or not membership.has_perm(perm):
                raise PermissionDenied(f"Your role does not allow this ({perm}).")
            return view(request, *args, **kwargs)

        wrapped.required_permission = perm  # type: ignore[attr-defined]
        return wrapped

    return decorator
