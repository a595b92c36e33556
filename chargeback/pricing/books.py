"""Price-book files (CSV and JSON with the columns of DESIGN.md 6.3), imports as new versions,
exports of the current book, the diff between two versions, and the model aliases."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from chargeback import safecsv
from chargeback.audit.log import record, snapshot
from chargeback.money import KNOWN_CURRENCIES
from chargeback.pricing.aliases import normalise_provider
from chargeback.pricing.index import PriceIndex, PricePoint
from chargeback.pricing.models import RATE_FIELDS, ModelAlias, ModelPrice, PriceVersion
from chargeback.pricing.prices import Rates
from chargeback.tenancy.models import Organization
from chargeback.wording import json_problem

COLUMNS = [
    "provider", "model", "effective_from", "input_per_1m", "output_per_1m", "cached_input_per_1m",
    "cache_write_per_1m", "batch_input_per_1m", "batch_output_per_1m", "per_request", "currency",
    "source", "source_date",
]  # fmt: skip
REQUIRED = ["provider", "model", "effective_from", "currency", "source"]
DEFAULT_BOOK = Path(__file__).parent / "data" / "default_prices.csv"


class PriceFileError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} error(s): " + "; ".join(errors[:5]))
        self.errors = errors


@dataclass(frozen=True)
class PriceRow:
    provider: str
    model: str
    effective_from: dt.date
    input_per_1m: Decimal | None
    output_per_1m: Decimal | None
    cached_input_per_1m: Decimal | None
    cache_write_per_1m: Decimal | None
    batch_input_per_1m: Decimal | None
    batch_output_per_1m: Decimal | None
    per_request: Decimal | None
    currency: str
    source: str
    source_date: dt.date | None

    @property
    def key(self) -> tuple[str, str, dt.date]:
        return (self.provider, self.model, self.effective_from)

    def values(self) -> tuple:
        return tuple(getattr(self, f) for f in RATE_FIELDS) + (
            self.currency,
            self.source,
            self.source_date,
        )


def _decimal(value: Any, where: str, errors: list[str]) -> Decimal | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, float):
        value = repr(value)
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        errors.append(f'{where}: "{value}" is not a number')
        return None
    if not d.is_finite() or d < 0:
        errors.append(f'{where}: "{value}" must be a non-negative number')
        return None
    return d


def _date(value: Any, where: str, errors: list[str], required: bool) -> dt.date | None:
    if value is None or str(value).strip() == "":
        if required:
            errors.append(f"{where}: required")
        return None
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        errors.append(f'{where}: "{value}" is not a date (YYYY-MM-DD)')
        return None


def _row(raw: dict[str, Any], label: str, errors: list[str]) -> PriceRow | None:
    before = len(errors)
    unknown = sorted(set(raw) - set(COLUMNS))
    if unknown:
        errors.append(f"{label}: unknown column(s) {', '.join(unknown)}")
    for name in REQUIRED:
        if raw.get(name) is None or str(raw.get(name)).strip() == "":
            errors.append(f"{label}, {name}: required")
    currency = str(raw.get("currency") or "").strip().upper()
    if currency and currency not in KNOWN_CURRENCIES:
        errors.append(f'{label}, currency: unknown currency "{currency}"')
    rates = {f: _decimal(raw.get(f), f"{label}, {f}", errors) for f in RATE_FIELDS}
    if rates["input_per_1m"] is None and rates["per_request"] is None and len(errors) == before:
        errors.append(f"{label}: needs input_per_1m and output_per_1m, or a per_request fee")
    if (rates["input_per_1m"] is None) != (rates["output_per_1m"] is None) and len(
        errors
    ) == before:
        errors.append(f"{label}: input_per_1m and output_per_1m go together")
    effective = _date(raw.get("effective_from"), f"{label}, effective_from", errors, True)
    source_date = _date(raw.get("source_date"), f"{label}, source_date", errors, False)
    if len(errors) > before:
        return None
    if rates["input_per_1m"] is None:  # a per-request-only price: tokens cost nothing
        rates["input_per_1m"] = rates["output_per_1m"] = Decimal(0)
    return PriceRow(
        provider=normalise_provider(str(raw["provider"])),
        model=str(raw["model"]).strip().lower(),
        effective_from=effective,
        currency=currency,
        source=str(raw["source"]).strip(),
        source_date=source_date,
        **rates,
    )


def parse_prices(text: str, fmt: str = "csv") -> list[PriceRow]:
    """Parse a price file; raises PriceFileError listing every problem with its row."""
    errors: list[str] = []
    rows: list[PriceRow] = []
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PriceFileError(
                [f"line {exc.lineno}: invalid JSON ({json_problem(exc.msg)})"]
            ) from exc
        if isinstance(data, dict):
            data = data.get("prices")
        if not isinstance(data, list):
            raise PriceFileError(['expected a list of prices (or {"prices": [...]})'])
        for i, raw in enumerate(data):
            if not isinstance(raw, dict):
                errors.append(f"prices[{i}]: expected an object")
                continue
            row = _row(raw, f"prices[{i}]", errors)
            if row:
                rows.append(row)
    elif fmt == "csv":
        # newline="": a CR or LF inside a quoted cell stays in the cell (not a csv.Error)
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise PriceFileError([f"header: missing column(s) {', '.join(missing)}"])
        for raw in reader:
            if None in raw:
                errors.append(f"line {reader.line_num}: more cells than columns")
                continue
            row = _row(raw, f"line {reader.line_num}", errors)
            if row:
                rows.append(row)
    else:
        raise PriceFileError([f'unknown format "{fmt}" (csv or json)'])
    seen: dict[tuple, int] = {}
    for i, row in enumerate(rows):
        if row.key in seen:
            errors.append(f"{row.provider}/{row.model} from {row.effective_from}: listed twice")
        seen[row.key] = i
    if errors:
        raise PriceFileError(errors)
    if not rows:
        raise PriceFileError(["the file holds no prices"])
    return rows


def _local_midnight(day: dt.date, organization: Organization) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=organization.tz).astimezone(dt.UTC)


def current_rows(
    organization: Organization, *, up_to_version: int | None = None
) -> dict[tuple, PriceRow]:
    """The book as of a version: for each (provider, model, effective date) the newest row."""
    qs = ModelPrice.objects.filter(organization=organization).select_related("version")
    if up_to_version is not None:
        qs = qs.filter(version__number__lte=up_to_version)
    out: dict[tuple, tuple[int, PriceRow]] = {}
    for p in qs.order_by("version__number"):
        row = PriceRow(
            provider=p.provider,
            model=p.model,
            effective_from=p.effective_from.astimezone(organization.tz).date(),
            currency=p.currency,
            source=p.source,
            source_date=p.source_date,
            **{f: getattr(p, f) for f in RATE_FIELDS},
        )
        out[row.key] = (p.version.number, _normalised(row))
    return {k: v[1] for k, v in out.items()}


def _normalised(row: PriceRow) -> PriceRow:
    """Strip trailing zeros so 0.150 and 0.15 compare equal."""
    fixed = {
        f: (getattr(row, f).normalize() if getattr(row, f) is not None else None)
        for f in RATE_FIELDS
    }
    return PriceRow(**{**asdict(row), **fixed})


def plan_prices(organization: Organization, rows: list[PriceRow]) -> list[DiffLine]:
    """What importing `rows` would add or change, without writing anything."""
    current = current_rows(organization)
    return [
        DiffLine(
            "changed" if r.key in current else "added", r.key, current.get(r.key), _normalised(r)
        )
        for r in rows
        if current.get(r.key) != _normalised(r)
    ]


def currency_errors(organization: Organization, rows: list[PriceRow]) -> list[str]:
    """A price in another currency than the organisation's would price nothing (its events are
    quarantined as "no price"): each such row, named."""
    cur = organization.currency
    return [
        f"{r.provider}/{r.model} from {r.effective_from}: the price is in {r.currency}, not the "
        f"organisation's {cur}; convert it to {cur} (a price in {r.currency} would price no event)"
        for r in rows
        if r.currency != cur
    ]


def import_prices(
    organization: Organization, rows: list[PriceRow], *, actor: Any, label: str
) -> tuple[PriceVersion | None, list[str]]:
    """Add the rows that are new or changed as one new version. Returns (version or None, changes).
    Raises PriceFileError, importing nothing, for prices in another currency."""
    if errors := currency_errors(organization, rows):
        raise PriceFileError(errors)
    with transaction.atomic():
        plan = plan_prices(organization, rows)
        changed = [line.after for line in plan]
        changes = [
            f"{line.kind} {line.after.provider}/{line.after.model} from {line.after.effective_from}"
            for line in plan
        ]
        if not changed:
            return None, []
        last = (
            PriceVersion.objects.filter(organization=organization).aggregate(m=Max("number"))["m"]
            or 0
        )
        label_actor = getattr(actor, "email", None) or str(actor)
        version = PriceVersion.objects.create(
            organization=organization,
            number=last + 1,
            label=label[:200],
            created_by=label_actor[:254],
        )
        ModelPrice.objects.bulk_create(
            ModelPrice(
                organization=organization,
                version=version,
                provider=r.provider,
                model=r.model,
                effective_from=_local_midnight(r.effective_from, organization),
                currency=r.currency,
                source=r.source,
                source_date=r.source_date,
                **{f: getattr(r, f) for f in RATE_FIELDS},
            )
            for r in changed
        )
        record(
            organization=organization,
            actor=actor,
            action="pricing.version_created",
            obj=version,
            after={"version": version.number, "label": version.label, "changes": changes},
        )
    return version, changes


def default_book(currency: str) -> Path | None:
    """The default list prices shipped in `currency`: `data/default_prices.csv` (USD) or
    `data/default_prices_<currency>.csv`; None when none ships in that currency."""
    if currency.upper() == "USD":
        return DEFAULT_BOOK
    path = DEFAULT_BOOK.with_name(f"default_prices_{currency.lower()}.csv")
    return path if path.is_file() else None


def load_default_prices(organization: Organization, *, actor: Any) -> PriceVersion | None:
    """Load the default list prices in the organisation's currency. None, loading nothing,
    when none ships in it: prices in another currency would price nothing (every event would
    be quarantined as "no price"), so the organisation imports its own (`no_prices_note`)."""
    book = default_book(organization.currency)
    if book is None:
        return None
    rows = parse_prices(book.read_text(), "csv")
    version, _ = import_prices(organization, rows, actor=actor, label="Default list prices")
    return version


def no_prices_note(organization: Organization) -> str:
    """What to tell an organisation none of whose current prices is in its currency ("" when
    some are): every event it sends would be quarantined as "no price" until it imports some."""
    currency = organization.currency
    if any(r.currency == currency for r in current_rows(organization).values()):
        return ""
    shipped = "" if default_book(currency) else f"; no default price book ships in {currency} yet"
    return (
        f"no prices in {currency}{shipped}: import a price file in {currency} (the Prices page, "
        f"or import_prices --org {organization.slug} FILE) before sending usage, or every event "
        f'is quarantined as "no price"'
    )


def export_rows(organization: Organization) -> list[PriceRow]:
    return sorted(current_rows(organization).values(), key=lambda r: r.key)


def cell(v: Any) -> str:
    """A price-file cell: "" for no value, decimals in plain notation without trailing zeros."""
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return format(v.normalize(), "f")
    return str(v)


def dump_prices(rows: list[PriceRow], fmt: str = "csv", *, formula_safe: bool = False) -> str:
    """The rows as a price file. `formula_safe` CSV (for downloads opened in spreadsheets)
    neutralises cells that start with = + - @ | % or a tab/CR (chargeback.safecsv)."""
    if fmt == "json":
        return (
            json.dumps(
                {"prices": [{c: cell(getattr(r, c)) or None for c in COLUMNS} for r in rows]},
                indent=2,
            )
            + "\n"
        )
    out = io.StringIO()
    writer = (safecsv if formula_safe else csv).writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([cell(getattr(r, c)) for c in COLUMNS])
    return out.getvalue()


@dataclass(frozen=True)
class DiffLine:
    kind: str  # added | removed | changed
    key: tuple
    before: PriceRow | None
    after: PriceRow | None


def diff_versions(organization: Organization, a: int, b: int) -> list[DiffLine]:
    old = current_rows(organization, up_to_version=a)
    new = current_rows(organization, up_to_version=b)
    lines = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            lines.append(DiffLine("added", key, None, new[key]))
        elif key not in new:
            lines.append(DiffLine("removed", key, old[key], None))
        elif old[key] != new[key]:
            lines.append(DiffLine("changed", key, old[key], new[key]))
    return lines


def price_index(organization: Organization) -> PriceIndex:
    """Every price row of the organisation, for ingestion-time lookups."""
    points = [
        PricePoint(
            price_id=p.pk,
            provider=p.provider,
            model=p.model,
            effective_from=p.effective_from,
            version=p.version.number,
            rates=Rates(
                input=p.input_per_1m,
                output=p.output_per_1m,
                cached_input=p.cached_input_per_1m,
                cache_write=p.cache_write_per_1m,
                batch_input=p.batch_input_per_1m,
                batch_output=p.batch_output_per_1m,
                per_request=p.per_request,
            ),
            currency=p.currency,
        )
        for p in ModelPrice.objects.filter(organization=organization).select_related("version")
    ]
    return PriceIndex(points)


# Model aliases ----------------------------------------------------------------------------


def add_alias(
    *,
    organization: Organization,
    provider: str,
    raw: str,
    canonical_provider: str,
    canonical_model: str,
    actor: Any,
) -> ModelAlias:
    """Map a raw model name to a priced (provider, model). Raises ValidationError naming the field."""
    provider = normalise_provider(provider) if provider.strip() else ""
    raw = raw.strip().lower()
    canonical_provider = normalise_provider(canonical_provider)
    canonical_model = canonical_model.strip().lower()
    prices = ModelPrice.objects.filter(organization=organization, provider=canonical_provider)
    if not prices.exists():
        raise ValidationError(
            {
                "canonical_provider": f'the price book has no prices for provider "{canonical_provider}"'
            }
        )
    if not prices.filter(model=canonical_model).exists():
        raise ValidationError(
            {
                "canonical_model": f"the price book has no price for {canonical_provider}/{canonical_model}"
            }
        )
    taken = ValidationError(
        {"raw": f'an alias for "{raw}" ({provider or "any provider"}) already exists'}
    )
    if ModelAlias.objects.filter(organization=organization, provider=provider, raw=raw).exists():
        raise taken
    try:
        with transaction.atomic():
            alias = ModelAlias.objects.create(
                organization=organization, provider=provider, raw=raw,
                canonical_provider=canonical_provider, canonical_model=canonical_model,
            )  # fmt: skip
            record(
                organization=organization,
                actor=actor,
                action="modelalias.created",
                obj=alias,
                after=snapshot(alias),
            )
    except IntegrityError:
        raise taken from None
    return alias


def delete_alias(*, alias: ModelAlias, actor: Any) -> None:
    with transaction.atomic():
        record(
            organization=alias.organization,
            actor=actor,
            action="modelalias.deleted",
            obj=alias,
            before=snapshot(alias),
        )
        alias.delete()
