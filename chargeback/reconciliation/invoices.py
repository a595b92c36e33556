"""Importing provider invoices: one invoice per provider and month, written whole or not at
all, with an audit event."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import transaction

from chargeback.audit.log import record
from chargeback.calendar import Period
from chargeback.reconciliation.invoice_files import (
    InvoiceFileError,
    ParsedLine,
    RowError,
    parse_invoice,
)
from chargeback.reconciliation.models import InvoiceLine, ProviderInvoice
from chargeback.tenancy.models import Organization


def read_invoice_file(organization: Organization, period: Period, text: str, fmt: str):
    """The file's lines, checked against the organisation and the month (InvoiceFileError)."""
    lines = parse_invoice(
        text, fmt=fmt, currency=organization.currency, first=period.first, last=period.last
    )
    _check_not_imported(organization, period, lines)
    return lines


def _check_not_imported(organization: Organization, period: Period, lines: list[ParsedLine]):
    taken = set(
        ProviderInvoice.objects.filter(organization=organization, month=period.first).values_list(
            "provider", flat=True
        )
    )
    errors, seen = [], set()
    for line in lines:
        if line.provider in taken and line.provider not in seen:
            seen.add(line.provider)
            errors.append(
                RowError(
                    line.line,
                    "provider",
                    f"{line.provider} already has an invoice for {period.label}",
                )
            )
    if errors:
        raise InvoiceFileError(errors)


def import_invoice(
    *,
    organization: Organization,
    period: Period,
    lines: list[ParsedLine],
    source: str,
    actor: object,
    filename: str = "",
    reference: str = "",
) -> list[ProviderInvoice]:
    """Write the lines as one invoice per provider for the month. Refused whole
    (InvoiceFileError) when a provider already has an invoice for it."""
    by_provider: dict[str, list[ParsedLine]] = defaultdict(list)
    for line in lines:
        by_provider[line.provider].append(line)
    created = []
    with transaction.atomic():
        _check_not_imported(organization, period, lines)
        for provider, group in sorted(by_provider.items()):
            invoice = ProviderInvoice.objects.create(
                organization=organization,
                provider=provider,
                month=period.first,
                currency=organization.currency,
                source=source,
                filename=filename[:300],
                reference=reference[:200],
                total=sum((line.amount for line in group), Decimal(0)),
                created_by=str(getattr(actor, "email", "") or actor)[:254],
            )
            InvoiceLine.objects.bulk_create(
                InvoiceLine(
                    organization=organization,
                    invoice=invoice,
                    position=position,
                    provider=line.provider,
                    model=line.model[:200],
                    token_class=line.token_class,
                    quantity=line.quantity,
                    amount=line.amount,
                    currency=line.currency,
                    day=line.day,
                    sku=line.sku[:200],
                    list_amount=line.list_amount,
                )
                for position, line in enumerate(group, start=1)
            )
            record(
                organization=organization,
                actor=actor,
                action="reconciliation.invoice_imported",
                obj=invoice,
                after={
                    "provider": provider,
                    "period": period.label,
                    "source": source,
                    "lines": len(group),
                    "total": str(invoice.total),
                },
            )
            created.append(invoice)
    return created


def delete_invoice(*, invoice: ProviderInvoice, actor: object) -> None:
    """Remove an invoice imported by mistake (it is our copy of the provider's document)."""
    with transaction.atomic():
        record(
            organization=invoice.organization,
            actor=actor,
            action="reconciliation.invoice_deleted",
            obj=invoice,
            before={"provider": invoice.provider, "period": invoice.period_label,
                    "total": str(invoice.total)},
        )  # fmt: skip
        invoice.delete()
