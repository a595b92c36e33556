"""Wallet pages: the overview, a wallet's ledger (and its CSV), and the finance form that
funds, tops up or transfers, with a confirmation step. A team lead sees its units' wallets,
read-only; another organisation's wallet, or one out of reach, is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from chargeback.safecsv import download as csv_download
from chargeback.tenancy.permissions import org_permission
from chargeback.units.queries import visible_unit_ids
from chargeback.wallets.charts import balance_figure
from chargeback.wallets.decision_counts import decision_counts
from chargeback.wallets.forms import MoveForm
from chargeback.wallets.ledger import post_entry, transfer
from chargeback.wallets.models import EntryType, LedgerEntry, Wallet
from chargeback.wallets.queries import balance_series, ledger_rows, month_start, overview
from chargeback.wallets.runout import run_out_dates

PAGE_SIZE = 50


@org_permission("wallets.view")
def wallet_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    rows = overview(request.org, unit_ids=visible_unit_ids(request.membership))
    wallets = [o.row.wallet for o in rows]
    run_out, counts = run_out_dates(request.org, wallets), _counts(request, wallets)
    context = {
        "rows": rows,
        "entries": [(o, run_out.get(o.row.wallet.pk), counts.get(o.row.wallet.pk)) for o in rows],
        "run_out": run_out,
        "can_move": request.membership.has_perm("wallets.manage"),
        "counts": counts,
    }
    return render(request, "wallets/wallet_list.html", context)


def _counts(request: HttpRequest, wallets: list[Wallet]) -> dict[int, dict[str, int]]:
    """This month's gateway decisions per wallet (registered by the gateway app)."""
    since = month_start(request.org, timezone.now())
    return decision_counts(request.org, [w.pk for w in wallets], since)


def _wallet(request: HttpRequest, wallet_id: int) -> Wallet:
    wallet = get_object_or_404(
        Wallet.objects.select_related("unit"), organization=request.org, pk=wallet_id
    )
    ids = visible_unit_ids(request.membership)
    if ids is not None and wallet.unit_id not in ids:
        raise Http404("No such wallet.")
    return wallet


def _entries(request: HttpRequest, wallet: Wallet):
    entries = LedgerEntry.objects.filter(organization=request.org, wallet=wallet)
    kind = request.GET.get("type", "")
    if kind in EntryType.values:
        entries = entries.filter(type=kind)
    return entries.order_by("-created_at", "-id"), ({"type": kind} if kind else {})


@org_permission("wallets.view")
def wallet_detail(request: HttpRequest, org_slug: str, wallet_id: int) -> HttpResponse:
    wallet = _wallet(request, wallet_id)
    entries, filters = _entries(request, wallet)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    series = balance_series(wallet)
    context = {
        "wallet": wallet,
        "page": page,
        "filters": filters,
        "types": EntryType.choices,
        "series": series,
        "figure": balance_figure(series, request.org.currency),
        "run_out": run_out_dates(request.org, [wallet])[wallet.pk],
        "counts": _counts(request, [wallet]).get(wallet.pk),
    }
    return render(request, "wallets/wallet_detail.html", context)


@org_permission("wallets.view")
def wallet_csv(request: HttpRequest, org_slug: str, wallet_id: int) -> HttpResponse:
    wallet = _wallet(request, wallet_id)
    entries, _filters = _entries(request, wallet)
    return csv_download(ledger_rows(entries), f"wallet-{wallet.code}-ledger.csv")


@org_permission("wallets.manage")
@require_http_methods(["GET", "POST"])
def wallet_move(request: HttpRequest, org_slug: str) -> HttpResponse:
    """GET: the form. POST: the confirmation. POST with `confirm`: post it. The form's key is
    the idempotency key, so a double submit posts once."""
    wallets = list(Wallet.objects.filter(organization=request.org).select_related("unit"))
    initial = {"wallet": request.GET.get("wallet")} if request.GET.get("wallet") else {}
    form = MoveForm(request.POST or None, wallets=wallets, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        target, source = form.by_id[d["wallet"]], form.by_id.get(d["source"])
        if "confirm" not in request.POST:
            context = {"form": form, "d": d, "target": target, "source": source}
            return render(request, "wallets/wallet_move_confirm.html", context)
        try:
            if d["operation"] == "transfer":
                transfer(source=source, target=target, amount=d["amount"], reason=d["reason"],
                         key=d["key"], actor=request.user)  # fmt: skip
            else:
                post_entry(wallet=target, type=d["operation"], amount=d["amount"],
                           reason=d["reason"], key=d["key"], actor=request.user)  # fmt: skip
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                name = {"target": "wallet"}.get(field, field)
                visible = name in ("wallet", "source", "amount", "reason")
                form.add_error(name if visible else None, errors)
        else:
            messages.success(request, f"Posted: {d['operation']} {d['amount']} to {target.name}.")
            return redirect("wallets:wallet-detail", org_slug=org_slug, wallet_id=target.pk)
    return render(request, "wallets/wallet_move.html", {"form": form})
