"""The demo's provider invoices for the last complete month: what each provider would bill for
the metered usage, with the differences a real bill has (cache reads priced higher than our
book, the unpriced gpt-7-preview records waiting in the quarantine, a volume discount) and a
small unexplained rest, so the reconciliation page has a known variance to explain."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from chargeback.calendar import Period
from chargeback.money import quantize
from chargeback.reconciliation.invoice_files import ParsedLine
from chargeback.reconciliation.invoices import import_invoice
from chargeback.reconciliation.models import ProviderInvoice
from chargeback.reconciliation.queries import metered_inputs, quarantined_inputs
from chargeback.tenancy.models import Organization

ACTOR = "command:seed_demo"
CACHE_MARKUP = Decimal("1.5")  # the provider bills cache reads at half again our book's rate
UNEXPLAINED = Decimal("1.005")  # 0.5% on one provider's input that nothing in our data explains
DISCOUNT = Decimal("0.005")  # a 0.5% volume credit line
ALIAS_RATE = {"input": Decimal("2.5"), "output": Decimal("10")}  # per 1M, for unpriced models
MILLION = Decimal(1_000_000)


def seed_invoices(org: Organization, month: Period) -> int:
    """Import the month's demo invoices (none if the month has no usage or has invoices
    already). Returns the number of invoices."""
    if ProviderInvoice.objects.filter(organization=org, month=month.first).exists():
        return 0
    acc: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 2)
    for m in metered_inputs(org, month):
        acc[(m.provider, m.model, m.token_class)][0] += m.quantity
        acc[(m.provider, m.model, m.token_class)][1] += m.amount
    if not acc:
        return 0
    for q in quarantined_inputs(org, month):
        rate = ALIAS_RATE.get(q.token_class.removeprefix("batch_"), ALIAS_RATE["input"])
        acc[(q.provider, q.model, q.token_class)][0] += q.quantity
        acc[(q.provider, q.model, q.token_class)][1] += q.quantity * rate / MILLION
    first_provider = min(p for p, _, _ in acc)
    lines, totals = [], defaultdict(lambda: Decimal(0))
    for (provider, model, cls), (qty, amount) in sorted(acc.items()):
        if cls == "cached_input":
            amount *= CACHE_MARKUP
        if cls == "input" and provider == first_provider:
            amount *= UNEXPLAINED
        amount = quantize(amount, org.currency)
        if not amount and not qty:
            continue
        totals[provider] += amount
        lines.append(ParsedLine(len(lines) + 2, provider, model, cls, qty, amount, org.currency))
    for provider, total in sorted(totals.items()):
        discount = -quantize(total * DISCOUNT, org.currency)
        if discount:
            lines.append(ParsedLine(len(lines) + 2, provider, "", "other", Decimal(0), discount,
                                    org.currency))  # fmt: skip
    invoices = import_invoice(organization=org, period=month, lines=lines, source="csv",
                              actor=ACTOR, filename="demo-invoices.csv")  # fmt: skip
    return len(invoices)
