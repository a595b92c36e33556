"""Dispute pages: the inbox (finance: every dispute; a team lead: "My disputes", its units'),
opening one from a statement, and a dispute with its timeline and the actions the member may
take. Thin: each action is one operation of `operations.py`; refusals are shown as messages."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chargeback.billing.queries import visible_statements
from chargeback.calendar import local_today
from chargeback.disputes import operations as ops
from chargeback.disputes.consequences import consequences
from chargeback.disputes.evidence import evidence_for
from chargeback.disputes.forms import InboxFilterForm, OpenDisputeForm, prefill
from chargeback.disputes.models import Dispute, State
from chargeback.disputes.queries import is_overdue, visible_disputes
from chargeback.disputes.workflow import ACTORS, allowed_actions
from chargeback.tenancy.permissions import org_permission
from chargeback.units.models import BusinessUnit, GatewayKey
from chargeback.units.queries import visible_units


@org_permission("statements.view")
@require_GET
def dispute_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    membership = request.membership
    form = InboxFilterForm(request.GET, units=visible_units(membership).order_by("code"))
    form.is_valid()
    f = getattr(form, "cleaned_data", {})
    qs = visible_disputes(membership)
    if f.get("state"):
        qs = qs.filter(state=f["state"])
    if f.get("reason"):
        qs = qs.filter(reason=f["reason"])
    if f.get("unit"):
        qs = qs.filter(unit__code=f["unit"])
    if f.get("sort"):
        qs = qs.order_by(f["sort"], "pk")
    today = local_today(request.org.tz)
    rows = [(d, is_overdue(d, today)) for d in qs[:500]]
    if f.get("overdue"):
        rows = [(d, late) for d, late in rows if late]
    template = "disputes/dispute_list.html"
    if request.headers.get("HX-Request"):
        template += "#rows"
    context = {"form": form, "rows": rows, "today": today, "finance": ops.is_finance(membership)}
    return render(request, template, context)


@org_permission("statements.view")
@require_http_methods(["GET", "POST"])
def dispute_new(request: HttpRequest, org_slug: str, statement_id: int) -> HttpResponse:
    membership = request.membership
    qs = visible_statements(request.org, membership).select_related("unit", "period")
    statement = get_object_or_404(qs, pk=statement_id)
    if not ops.can_reach(membership, statement.unit):
        raise Http404("No such statement.")
    form = OpenDisputeForm(
        request.POST or None,
        request.FILES or None,
        statement=statement,
        initial=prefill(statement, request.GET.getlist("line")),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            dispute = ops.open_dispute(
                membership=membership,
                statement=statement,
                line_ids=[int(x) for x in data["lines"]],
                amount=data["amount"],
                reason=data["reason"],
                description=data["description"],
                request_ids=data["request_ids"],
                evidence_file=data.get("evidence_file"),
            )
        except ops.DisputeNotFound as exc:
            raise Http404(str(exc)) from exc
        except ops.DisputeError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Dispute {dispute.pk} is open: finance responds by "
                f"{dispute.respond_by:%A %-d %B %Y}."
            )  # fmt: skip
            return redirect("disputes:dispute-detail", org_slug=org_slug, dispute_id=dispute.pk)
    context = {"statement": statement, "form": form, "today": local_today(request.org.tz)}
    return render(request, "disputes/dispute_new.html", context)


def _dispute(request: HttpRequest, dispute_id: int) -> Dispute:
    qs = visible_disputes(request.membership).select_related("statement__period", "unit")
    return get_object_or_404(qs, pk=dispute_id)


def _may(membership, dispute: Dispute, action: str) -> bool:
    who = ACTORS[action]
    if who == "finance":
        return ops.is_finance(membership)
    if who == "opener":
        return membership.user_id == dispute.opened_by_id
    return ops.can_reach(membership, dispute.unit)


@org_permission("statements.view")
@require_GET
def dispute_detail(request: HttpRequest, org_slug: str, dispute_id: int) -> HttpResponse:
    membership = request.membership
    dispute = _dispute(request, dispute_id)
    today = local_today(request.org.tz)
    actions = [a for a in allowed_actions(dispute.state) if _may(membership, dispute, a)]
    context = {
        "dispute": dispute,
        "statement": dispute.statement,
        "events": dispute.events.all(),
        "lines": [t.line for t in dispute.targets.select_related("line")],
        "actions": actions,
        "resolving": ops.is_finance(membership)
        and dispute.state in (State.OPEN, State.UNDER_REVIEW),
        "can_comment": ops.can_reach(membership, dispute.unit),
        "units": BusinessUnit.objects.filter(organization=request.org, archived=False)
        .exclude(pk=dispute.unit_id)
        .order_by("code"),
        "keys": GatewayKey.objects.filter(organization=request.org).order_by("key_id")
        if dispute.reason == "wrong_owner"
        else [],
        "overdue": is_overdue(dispute, today),
        "today": today,
        "ev": evidence_for(dispute),
        "money": consequences(dispute, membership),
        "finance": ops.is_finance(membership),
    }
    return render(request, "disputes/dispute_detail.html", context)


@org_permission("statements.view")
@require_POST
def dispute_act(request: HttpRequest, org_slug: str, dispute_id: int) -> HttpResponse:
    membership = request.membership
    dispute = _dispute(request, dispute_id)
    action = request.POST.get("action", "")
    text = request.POST.get("text", "")
    try:
        if action == "resolve":
            code = request.POST.get("to_unit") or ""
            to_unit = (  # looked up for finance only: a 404 would tell others a code exists
                get_object_or_404(BusinessUnit, organization=request.org, code=code)
                if code and ops.is_finance(membership)
                else None
            )
            done = ops.resolve(
                membership=membership,
                dispute=dispute,
                outcome=request.POST.get("outcome", ""),
                amount=request.POST.get("amount") or None,
                to_unit=to_unit,
                text=text,
                cause_key=request.POST.get("cause_key") or None,
                cause_tag=request.POST.get("cause_tag") or "",
            )
        elif action in ("start_review", "request_info", "answer_info", "withdraw", "comment"):
            fn = getattr(ops, action if action != "comment" else "comment")
            done = fn(membership=membership, dispute=dispute, text=text)
        else:
            raise ops.DisputeError(f'action: "{action}" is not one this page offers')
    except ops.DisputeNotFound as exc:
        raise Http404(str(exc)) from exc
    except ops.DisputeError as exc:
        messages.error(request, str(exc))
    else:
        if isinstance(done, Dispute):
            messages.success(request, f"Dispute {done.pk} is {done.get_state_display().lower()}.")
        else:
            messages.success(request, "Comment added.")
    return redirect("disputes:dispute-detail", org_slug=org_slug, dispute_id=dispute.pk)
