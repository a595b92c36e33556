"""Reads of gateway decisions for the pages: the filtered log, its CSV rows, counts."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet

from chargeback.gateway.models import Decision, Reason
from chargeback.tenancy.models import Organization

OUTCOMES = ("allowed", "denied", "would_deny")


def decisions(
    organization: Organization, *, unit_ids: set[int] | None, filters: dict[str, str]
) -> QuerySet[Decision]:
    """The organisation's decisions, newest first (a team lead's: its units' only), filtered by
    outcome (allowed | denied | would_deny), reason and gateway key id."""
    rows = Decision.objects.filter(organization=organization).select_related("unit")
    if unit_ids is not None:
        rows = rows.filter(unit_id__in=unit_ids)
    outcome = filters.get("outcome")
    if outcome == "allowed":
        rows = rows.filter(allowed=True, reason="")
    elif outcome == "denied":
        rows = rows.filter(allowed=False)
    elif outcome == "would_deny":
        rows = rows.filter(allowed=True).exclude(reason="")
    if filters.get("reason") in Reason.values:
        rows = rows.filter(reason=filters["reason"])
    if filters.get("key"):
        rows = rows.filter(gateway_key_id=filters["key"])
    return rows.order_by("-created_at", "-id")


def read_filters(params) -> dict[str, str]:
    """The filters the log understands, from query parameters (unknown values dropped)."""
    out = {}
    if params.get("outcome") in OUTCOMES:
        out["outcome"] = params["outcome"]
    if params.get("reason") in Reason.values:
        out["reason"] = params["reason"]
    key = (params.get("key") or "").strip()[:200]
    if key:
        out["key"] = key
    return out


def csv_rows(rows) -> list[list[str]]:
    out = [["created_at", "request_id", "gateway_key_id", "unit", "provider", "model", "mode",
            "outcome", "reason", "estimated_cost", "reserved", "wallet_available",
            "budget_remaining", "reservation_id"]]  # fmt: skip
    for d in rows:
        out.append([
            d.created_at.isoformat(), d.request_id, d.gateway_key_id,
            d.unit.code if d.unit_id else "", d.provider, d.model, d.mode, d.outcome, d.reason,
            *(("" if v is None else str(v)) for v in (
                d.estimated_cost, d.reserved, d.wallet_available, d.budget_remaining,
                d.reservation_id)),
        ])  # fmt: skip
    return out


def _counts() -> dict:
    return {
        "n_allowed": Count("id", filter=Q(allowed=True, reason="")),
        "n_denied": Count("id", filter=Q(allowed=False)),
        "n_would_deny": Count("id", filter=Q(allowed=True) & ~Q(reason="")),
    }


def summary(rows: QuerySet[Decision]) -> dict[str, int]:
    """How many were allowed, denied and would have been denied (observe mode)."""
    got = rows.order_by().aggregate(**_counts())
    return {k: got[f"n_{k}"] for k in OUTCOMES}


def counts_by_wallet(
    organization: Organization, wallet_ids: list[int], since: dt.datetime
) -> dict[int, dict[str, int]]:
    """Each wallet's decisions since `since`: allowed, denied, would deny."""
    rows = (
        Decision.objects.filter(
            organization=organization, wallet_id__in=wallet_ids, created_at__gte=since
        )
        .order_by()
        .values("wallet_id")
        .annotate(**_counts())
    )
    return {r["wallet_id"]: {k: r[f"n_{k}"] for k in OUTCOMES} for r in rows}
