"""Allocation policy pages: the versions by effective month, one version laid out, and the
editor (create a version, edit one whose months are not issued yet) with a preview of the
month's statements under the proposed policy before saving. They live in billing because each
one shows what issued statements lock and what the drafts would become; the URL names stay
`allocation:policy-*` (see chargeback/urls.py)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from chargeback.allocation.forms import PolicyEditor
from chargeback.allocation.models import AllocationPolicy
from chargeback.allocation.policy import Policy
from chargeback.allocation.queries import policy_for
from chargeback.billing.policy_versions import (
    first_open_month,
    last_issued,
    lock_reason,
    save_policy,
)
from chargeback.billing.preview import preview_policy, preview_warnings
from chargeback.calendar import Period
from chargeback.tenancy.models import Organization
from chargeback.tenancy.permissions import org_permission

PAGE_SIZE = 50


def _pct(rate) -> str:
    return f"{(rate * 100).normalize():f}%"


def _layout(policy: Policy) -> dict:
    """The policy as rows a template can show without arithmetic."""
    tiers, lower = [], 0
    for tier in policy.tiers:
        tiers.append({"tier": tier, "from": lower, "markup": _pct(tier.markup)})
        lower = tier.up_to_tokens or lower
    return {
        "policy": policy,
        "tiers": tiers,
        "fee_percent": _pct(policy.fee_percent),
        "rates": policy.activity_rates,
        "pools": [
            {"pool": p, "weights": ", ".join(f"{c} = {w}" for c, w in p.weights)}
            for p in policy.pools
        ],
    }


def _in_force(org: Organization) -> AllocationPolicy | None:
    today = Period.current(org.tz).first
    return (
        AllocationPolicy.objects.filter(organization=org, effective_from__lte=today)
        .order_by("-effective_from")
        .first()
    )


def _status(version: AllocationPolicy, in_force: AllocationPolicy | None, today: dt.date) -> str:
    if in_force is not None and version.pk == in_force.pk:
        return "in force"
    return "scheduled" if version.effective_from > today else "superseded"


@org_permission("policy.view")
@require_GET
def policy_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = request.org
    versions = AllocationPolicy.objects.filter(organization=org).order_by("-effective_from")
    page = Paginator(versions, PAGE_SIZE).get_page(request.GET.get("page"))
    in_force, today, issued = _in_force(org), Period.current(org.tz).first, last_issued(org)
    rows = [
        {
            "version": v,
            "status": _status(v, in_force, today),
            "locked": issued is not None and v.effective_from <= issued.month,
        }
        for v in page
    ]
    context = {"page": page, "rows": rows, "filters": {}, "in_force": in_force}
    if not rows:
        context["default"] = _layout(Policy())
    return render(request, "allocation/policy_list.html", context)


@org_permission("policy.view")
@require_GET
def policy_detail(request: HttpRequest, org_slug: str, policy_id: int) -> HttpResponse:
    org = request.org
    version = get_object_or_404(AllocationPolicy, organization=org, pk=policy_id)
    context = {
        "version": version,
        "status": _status(version, _in_force(org), Period.current(org.tz).first),
        "locked": lock_reason(org, version.effective_from),
        **_layout(version.policy),
    }
    return render(request, "allocation/policy_detail.html", context)


def _suggested_month(org: Organization) -> str:
    """The first month from now on that is open and has no version yet."""
    month = max(Period.current(org.tz).first, first_open_month(org) or dt.date.min)
    taken = set(
        AllocationPolicy.objects.filter(organization=org, effective_from__gte=month).values_list(
            "effective_from", flat=True
        )
    )
    while month in taken:
        month = Period.of(month).next.first
    return f"{month:%Y-%m}"


@org_permission("policy.manage")
@require_http_methods(["GET", "POST"])
def policy_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    """A new version, starting from the one named by ?copy=<id> or the one in force now."""
    org = request.org
    copy = request.GET.get("copy", "")
    if copy.isascii() and copy.isdigit() and len(copy) < 10:
        base = get_object_or_404(AllocationPolicy, organization=org, pk=int(copy)).policy
    else:
        base = policy_for(org, Period.current(org.tz))
    editor = PolicyEditor(org, base, data=request.POST or None, initial_month=_suggested_month(org))
    return _edit(request, editor, None)


@org_permission("policy.manage")
@require_http_methods(["GET", "POST"])
def policy_edit(request: HttpRequest, org_slug: str, policy_id: int) -> HttpResponse:
    version = get_object_or_404(AllocationPolicy, organization=request.org, pk=policy_id)
    reason = lock_reason(request.org, version.effective_from)
    if reason:
        messages.error(request, reason)
        return redirect("allocation:policy-detail", org_slug=request.org.slug, policy_id=version.pk)
    editor = PolicyEditor(
        request.org, version.policy, data=request.POST or None, month=version.month
    )
    return _edit(request, editor, version)


def _edit(
    request: HttpRequest, editor: PolicyEditor, version: AllocationPolicy | None
) -> HttpResponse:
    org, preview, warnings = request.org, None, []
    if request.method == "POST" and not editor.adding:
        policy = editor.policy()
        if policy is not None:
            policy = _check_month(org, editor, policy, version)
        if policy is not None and request.POST.get("action") == "save":
            if version is not None and version.policy == policy:
                messages.info(request, f"No changes: the policy from {version.month} is as it was.")
                return redirect("allocation:policy-detail", org_slug=org.slug, policy_id=version.pk)
            try:
                saved = save_policy(organization=org, policy=policy, actor=request.user)
            except ValidationError as exc:
                for message in exc.message_dict.get("effective_from", exc.messages):
                    editor.add_error(f"policy.effective_from: {message}")
            else:
                verb = "saved" if version is None else "updated"
                messages.success(request, f"The policy from {saved.month} was {verb}.")
                return redirect("allocation:policy-detail", org_slug=org.slug, policy_id=saved.pk)
        elif policy is not None:
            preview = preview_policy(org, policy, _preview_month(org, policy))
            warnings = preview_warnings(
                preview,
                policy,
                markup_bound=settings.ALLOCATION_WARN_MARKUP,
                ratio_bound=settings.ALLOCATION_WARN_RATIO,
            )
    context = {
        "editor": editor,
        "form": editor.form,
        "formsets": editor.formsets,
        "version": version,
        "preview": preview,
        "preview_warnings": warnings,
        "preview_to_date": preview is not None and preview.period == Period.current(org.tz),
        "unit_codes": editor.unit_codes(),
    }
    return render(request, "allocation/policy_form.html", context)


def _preview_month(org: Organization, policy: Policy) -> Period:
    """The first month the version applies to, or this month for a version that starts later
    (the latest usage there is)."""
    current = Period.current(org.tz)
    if not policy.effective_from:
        return current
    month = Period.parse(policy.effective_from)
    return month if month.first < current.first else current


def _check_month(
    org: Organization, editor: PolicyEditor, policy: Policy, version: AllocationPolicy | None
) -> Policy | None:
    """A new version needs a month of its own that is still open."""
    month = Period.parse(policy.effective_from or "").first
    if version is None:
        existing = AllocationPolicy.objects.filter(organization=org, effective_from=month).first()
        if existing is not None:
            editor.add_error(
                f"policy.effective_from: a version from {existing.month} already exists: "
                "edit it instead, or pick another month"
            )
            return None
    reason = lock_reason(org, month)
    if reason:
        editor.add_error(f"policy.effective_from: {reason}")
        return None
    return policy
