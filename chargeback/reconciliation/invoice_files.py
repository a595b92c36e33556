"""Reading a provider invoice file into lines: a CSV of lines (DESIGN 6.3: `provider, model,
token_class, quantity, amount, currency`, with optional `day` and `sku`) or a FOCUS 1.x cost and
usage CSV. Pure: text in, lines or errors out. Every problem names its line, its field and why;
one problem refuses the whole file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

TOKEN_CLASSES = (
    "input", "cached_input", "cache_write", "output", "batch_input", "batch_output", "request",
    "other",
)  # fmt: skip
CSV_REQUIRED = ("provider", "model", "token_class", "quantity", "amount", "currency")
CSV_OPTIONAL = ("day", "sku")
FOCUS_REQUIRED = ("BilledCost", "ChargePeriodStart", "ConsumedQuantity", "BillingCurrency")
# The FOCUS 1.0 to 1.3 columns; custom columns start with x_.
FOCUS_COLUMNS = frozenset(
    """AvailabilityZone BilledCost BillingAccountId BillingAccountName BillingAccountType
    BillingCurrency BillingPeriodEnd BillingPeriodStart CapacityReservationId
    CapacityReservationStatus ChargeCategory ChargeClass ChargeDescription ChargeFrequency
    ChargePeriodEnd ChargePeriodStart CommitmentDiscountCategory CommitmentDiscountId
    CommitmentDiscountName CommitmentDiscountQuantity CommitmentDiscountStatus
    CommitmentDiscountType CommitmentDiscountUnit ConsumedQuantity ConsumedUnit ContractApplied
    ContractedCost ContractedUnitPrice EffectiveCost InvoiceId InvoiceIssuerName ListCost
    ListUnitPrice PricingCategory PricingCurrency PricingCurrencyContractedUnitPrice
    PricingCurrencyEffectiveCost PricingCurrencyListUnitPrice PricingQuantity PricingUnit
    ProviderName PublisherName RegionId RegionName ResourceId ResourceName ResourceType
    ServiceCategory ServiceName ServiceSubcategory SkuId SkuMeter SkuPriceDetails SkuPriceId
    SubAccountId SubAccountName SubAccountType Tags ServiceProviderName HostProviderName
    AllocatedMethodId AllocatedMethodDetails AllocatedResourceId AllocatedResourceName
    AllocatedTags""".split()  # noqa: SIM905 (a list of 65 names reads better as text)
)
UNIT_SCALE = (  # ConsumedUnit wording -> tokens per unit
    (re.compile(r"\b(1m|million|mtok)", re.I), Decimal(1_000_000)),
    (re.compile(r"\b(1k|thousand|ktok)", re.I), Decimal(1_000)),
)
MAX_ROWS = 200_000


@dataclass(frozen=True)
class ParsedLine:
    line: int
    provider: str
    model: str
    token_class: str
    quantity: Decimal
    amount: Decimal
    currency: str
    day: dt.date | None = None
    sku: str = ""
    list_amount: Decimal | None = None


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


class InvoiceFileError(ValueError):
    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__(str(errors[0]) if errors else "invalid invoice file")


def provider_slug(name: str) -> str:
    """`OpenAI` -> `openai`, `Google Cloud` -> `google-cloud`: provider names as events carry them."""
    return re.sub(r"[^a-z0-9.]+", "-", name.strip().lower()).strip("-")


def parse_invoice(
    text: str, *, fmt: str, currency: str, first: dt.date, last: dt.date
) -> list[ParsedLine]:
    """The lines of an invoice file for the month `first`..`last`, or InvoiceFileError with
    every problem found (line, field, reason)."""
    if fmt not in ("csv", "focus"):
        raise InvoiceFileError([RowError(0, "format", f'"{fmt}" is not csv or focus')])
    # newline="": a CR or LF inside a quoted cell stays in the cell (not a csv.Error)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    errors = _check_header(header, fmt)
    if errors:
        raise InvoiceFileError(errors)
    reader.fieldnames = header
    lines: list[ParsedLine] = []
    for number, row in enumerate(reader, start=2):
        if number > MAX_ROWS:
            raise InvoiceFileError([RowError(number, "file", f"more than {MAX_ROWS} rows")])
        if None in row:
            errors.append(RowError(number, "row", "more cells than the header has columns"))
            continue
        if not any((v or "").strip() for v in row.values()):
            continue
        read = _csv_row if fmt == "csv" else _focus_row
        result = read(number, {k: (v or "").strip() for k, v in row.items()})
        if isinstance(result, RowError):
            errors.append(result)
            continue
        problem = _check_line(result, fmt, currency, first, last)
        if problem:
            errors.append(problem)
        else:
            lines.append(result)
    if not lines and not errors:
        errors.append(RowError(2, "file", "no invoice lines"))
    if errors:
        raise InvoiceFileError(errors)
    return lines


def _check_header(header: list[str], fmt: str) -> list[RowError]:
    if not header:
        return [RowError(1, "header", "the file is empty")]
    if fmt == "csv":
        known, required = set(CSV_REQUIRED + CSV_OPTIONAL), CSV_REQUIRED
    else:
        known, required = FOCUS_COLUMNS, FOCUS_REQUIRED
    errors = [
        RowError(1, name or "(empty)", "unknown column")
        for name in header
        if name not in known and not (fmt == "focus" and name.startswith("x_"))
    ]
    errors += [RowError(1, name, "missing column") for name in required if name not in header]
    return errors


def _decimal(number: int, field: str, value: str) -> Decimal | RowError:
    try:
        out = Decimal(value)
    except InvalidOperation:
        return RowError(number, field, f'"{value[:40]}" is not a number')
    if not out.is_finite():
        return RowError(number, field, f'"{value[:40]}" is not a number')
    return out


def _csv_row(number: int, row: dict[str, str]) -> ParsedLine | RowError:
    for name in ("provider", "token_class", "quantity", "amount", "currency"):
        if not row.get(name):
            return RowError(number, name, "is empty")
    if row["token_class"] not in TOKEN_CLASSES:
        return RowError(number, "token_class", f"must be one of {', '.join(TOKEN_CLASSES)}")
    quantity = _decimal(number, "quantity", row["quantity"])
    amount = _decimal(number, "amount", row["amount"])
    for value in (quantity, amount):
        if isinstance(value, RowError):
            return value
    day = None
    if row.get("day"):
        try:
            day = dt.date.fromisoformat(row["day"])
        except ValueError:
            return RowError(number, "day", f'"{row["day"][:40]}" is not a date (YYYY-MM-DD)')
    return ParsedLine(
        line=number,
        provider=provider_slug(row["provider"]),
        model=row.get("model", ""),
        token_class=row["token_class"],
        quantity=quantity,
        amount=amount,
        currency=row["currency"].upper(),
        day=day,
        sku=row.get("sku", ""),
    )


def _focus_row(number: int, row: dict[str, str]) -> ParsedLine | RowError:
    for name in FOCUS_REQUIRED:
        if not row.get(name):
            return RowError(number, name, "is empty")
    provider = row.get("ServiceProviderName") or row.get("ProviderName") or ""
    if not provider:
        return RowError(number, "ProviderName", "is empty (or give ServiceProviderName)")
    amount = _decimal(number, "BilledCost", row["BilledCost"])
    quantity = _decimal(number, "ConsumedQuantity", row["ConsumedQuantity"])
    list_cost = _decimal(number, "ListCost", row["ListCost"]) if row.get("ListCost") else None
    for value in (amount, quantity, list_cost):
        if isinstance(value, RowError):
            return value
    start = row["ChargePeriodStart"]
    try:
        day = dt.datetime.fromisoformat(start.replace("Z", "+00:00")).date()
    except ValueError:
        return RowError(number, "ChargePeriodStart", f'"{start[:40]}" is not a date and time')
    details = {}
    if row.get("SkuPriceDetails"):
        try:
            details = json.loads(row["SkuPriceDetails"])
        except ValueError:
            return RowError(number, "SkuPriceDetails", "is not a JSON object")
        if not isinstance(details, dict):
            return RowError(number, "SkuPriceDetails", "is not a JSON object")
    model, token_class = _focus_model_class(row, details)
    return ParsedLine(
        line=number,
        provider=provider_slug(provider),
        model=model,
        token_class=token_class,
        quantity=quantity * _unit_scale(row.get("ConsumedUnit", "")),
        amount=amount,
        currency=row["BillingCurrency"].upper(),
        day=day,
        sku=row.get("SkuId", ""),
        list_amount=list_cost,
    )


def _focus_model_class(row: dict[str, str], details: dict) -> tuple[str, str]:
    """The model and token class of a FOCUS row: from SkuPriceDetails (`x_Model`/`Model`,
    `x_TokenClass`/`TokenClass`) where present, else read from the SKU's words."""
    lowered = {str(k).lower().removeprefix("x_"): v for k, v in details.items()}
    model = str(lowered.get("model") or row.get("x_Model") or "")
    token_class = str(lowered.get("tokenclass") or lowered.get("token_class") or "")
    words = " ".join(
        row.get(k, "") for k in ("SkuMeter", "SkuId", "ChargeDescription", "ConsumedUnit")
    ).lower()
    if not model:
        sku = row.get("SkuId", "") or row.get("ResourceName", "")
        model = re.split(r"[:/|]", sku, maxsplit=1)[0] if sku else row.get("ServiceName", "")
    if token_class not in TOKEN_CLASSES:
        token_class = _class_from_words(words, row.get("ChargeCategory", ""))
    return model, token_class


def _class_from_words(words: str, category: str) -> str:
    batch = "batch" in words
    if "cache" in words and "write" in words:
        return "cache_write"
    if "cache" in words or "cached" in words:
        return "cached_input"
    if "output" in words or "completion" in words:
        return "batch_output" if batch else "output"
    if "input" in words or "prompt" in words:
        return "batch_input" if batch else "input"
    if "request" in words and category.lower() == "usage":
        return "request"
    return "other"


def _unit_scale(unit: str) -> Decimal:
    for pattern, scale in UNIT_SCALE:
        if pattern.search(unit):
            return scale
    return Decimal(1)


FIELDS = {  # what the checks below are called in each format
    "csv": ("quantity", "currency", "day", "amount"),
    "focus": ("ConsumedQuantity", "BillingCurrency", "ChargePeriodStart", "BilledCost"),
}


def _check_line(
    line: ParsedLine, fmt: str, currency: str, first: dt.date, last: dt.date
) -> RowError | None:
    quantity, currency_field, day, amount = FIELDS[fmt]
    if line.quantity < 0:
        return RowError(line.line, quantity, "must not be negative")
    if line.currency != currency:
        return RowError(
            line.line,
            currency_field,
            f"{line.currency} is not the organisation's currency {currency}",
        )
    if line.day is not None and not first <= line.day <= last:
        return RowError(
            line.line, day, f"{line.day.isoformat()} is outside {first:%Y-%m} (the period)"
        )
    if abs(line.amount) >= Decimal(10) ** 19 or abs(line.quantity) >= Decimal(10) ** 19:
        return RowError(line.line, amount, "is too large")
    return None
