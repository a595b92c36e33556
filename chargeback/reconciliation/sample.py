"""A one-shot audit of a sample of gateway logs, before onboarding: which fields are missing,
how much would attribute to a unit by evidence rather than fall back to the central bucket,
and what would be quarantined, and why. The sample goes through the pipeline's own reading,
validation, model, price and attribution steps (`usage.pipeline`), and is never ingested:
nothing is written and nothing of it is kept (the reasons never quote message text)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from chargeback.tenancy.models import Organization
from chargeback.units.attribution import CENTRAL, METHODS
from chargeback.usage.context import Context, load_context
from chargeback.usage.pipeline import price_and_attribute, validate_chunk
from chargeback.usage.records import CSV_REQUIRED, PayloadError, RecordError, read_records

MAX_RECORDS = 100_000  # a sample: the rest of a larger file is not looked at
CHUNK = 1_000
FIRST_LINES = 5  # line numbers kept per quarantine reason
EVIDENCE_FIELDS = ("gateway_key_id", "team", "service", "environment")


@dataclass
class ReasonGroup:
    """Records that would be quarantined for one reason (a record can have several)."""

    code: str
    field: str
    example: str  # the pipeline's wording, for the first such record
    count: int = 0
    lines: list[int] = field(default_factory=list)  # the first records' lines (or indexes)


@dataclass
class SampleAudit:
    fmt: str
    currency: str
    records: int = 0  # records read (at most MAX_RECORDS)
    truncated: bool = False  # the file had more records than MAX_RECORDS
    unreadable: int = 0  # lines that are not a record at all (not JSON, bad CSV row)
    fields: tuple[str, ...] = ()  # the fields checked, in order
    required: frozenset[str] = frozenset()  # those the pipeline or the organisation requires
    missing: dict[str, int] = field(default_factory=dict)  # field -> records without it
    accepted: int = 0  # records that would be stored
    quarantined: int = 0  # records that would be quarantined
    reasons: list[ReasonGroup] = field(default_factory=list)  # by count, largest first
    by_method: dict[str, int] = field(default_factory=dict)  # attribution method -> records
    attributed_records: int = 0  # accepted records a unit's evidence would own
    central_records: int = 0  # accepted records that fall back to the central bucket
    attributed_cost: Decimal = Decimal(0)
    central_cost: Decimal = Decimal(0)

    @property
    def cost(self) -> Decimal:
        return self.attributed_cost + self.central_cost

    @property
    def records_share(self) -> Decimal | None:
        """Share of the accepted records attributed by evidence; None without any."""
        return _share(Decimal(self.attributed_records), Decimal(self.accepted))

    @property
    def cost_share(self) -> Decimal | None:
        """Share of the accepted records' cost attributed by evidence; None at zero cost."""
        return _share(self.attributed_cost, self.cost)

    @property
    def records_pct(self) -> str:
        return _pct(self.records_share)

    @property
    def cost_pct(self) -> str:
        return _pct(self.cost_share)

    @property
    def missing_rows(self) -> list[tuple[str, bool, int]]:
        """(field, required, records without it), in the order checked."""
        return [(name, name in self.required, self.missing[name]) for name in self.fields]

    @property
    def methods(self) -> list[tuple[str, int]]:
        return [(method, n) for method, n in self.by_method.items() if n]


def _pct(share: Decimal | None) -> str:
    return "—" if share is None else f"{share * 100:.2f}%"


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    return None if not whole else (part / whole).quantize(Decimal("0.0001"))


def _present(record: dict[str, Any], name: str) -> bool:
    value = record.get(name)
    if value is None or value == "":
        tags = record.get("tags")
        value = tags.get(name) if isinstance(tags, dict) else None
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def audit_sample(organization: Organization, stream: IO[bytes], fmt: str) -> SampleAudit:
    """The audit of the sample in `stream` (any format `ingest_events` reads). Raises
    PayloadError when the file as a whole cannot be read. Reads, never writes."""
    context = load_context(organization)
    required = (*CSV_REQUIRED, *organization.required_tags)
    fields = tuple(dict.fromkeys((*required, *EVIDENCE_FIELDS)))
    audit = SampleAudit(
        fmt=fmt, currency=organization.currency, fields=fields, required=frozenset(required),
        missing=dict.fromkeys(fields, 0), by_method=dict.fromkeys(METHODS, 0),
    )  # fmt: skip
    chunk: list[tuple[int, Any]] = []
    for position, record in read_records(stream, fmt):
        if audit.records >= MAX_RECORDS:
            audit.truncated = True
            break
        audit.records += 1
        if isinstance(record, RecordError):
            audit.unreadable += 1
        else:
            for name in fields:
                if not _present(record, name):
                    audit.missing[name] += 1
        chunk.append((position, record))
        if len(chunk) >= CHUNK:
            _check(context, chunk, audit)
            chunk = []
    if chunk:
        _check(context, chunk, audit)
    audit.reasons.sort(key=lambda g: (-g.count, g.lines[:1]))
    return audit


def _check(context: Context, chunk: list[tuple[int, Any]], audit: SampleAudit) -> None:
    prepared = validate_chunk(context, chunk)
    price_and_attribute(context, prepared.priced)
    groups = {(g.code, g.field): g for g in audit.reasons}
    for q in prepared.quarantined:
        audit.quarantined += 1
        for reason in _distinct(q.reasons):
            group = groups.get((reason.code, reason.field))
            if group is None:
                group = groups[(reason.code, reason.field)] = ReasonGroup(
                    reason.code, reason.field, reason.problem
                )
                audit.reasons.append(group)
            group.count += 1
            if len(group.lines) < FIRST_LINES:
                group.lines.append(q.position)
    for p in prepared.priced:
        audit.accepted += 1
        audit.by_method[p.method] = audit.by_method.get(p.method, 0) + 1
        if p.method == CENTRAL:
            audit.central_records += 1
            audit.central_cost += p.cost
        else:
            audit.attributed_records += 1
            audit.attributed_cost += p.cost


def _distinct(reasons: Iterable[Any]) -> list[Any]:
    seen, out = set(), []
    for r in reasons:
        if (r.code, r.field) not in seen:
            seen.add((r.code, r.field))
            out.append(r)
    return out


def _s(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def as_json(audit: SampleAudit) -> dict[str, Any]:
    """The audit as `audit_sample --json` prints it (Decimals as strings)."""
    return {
        "format": audit.fmt,
        "records": audit.records,
        "truncated": audit.truncated,
        "unreadable": audit.unreadable,
        "accepted": audit.accepted,
        "quarantined": audit.quarantined,
        "missing": [
            {"field": name, "required": name in audit.required, "records": audit.missing[name]}
            for name in audit.fields
        ],
        "attribution": {
            "currency": audit.currency,
            "attributed_records": audit.attributed_records,
            "central_records": audit.central_records,
            "attributed_cost": _s(audit.attributed_cost),
            "central_cost": _s(audit.central_cost),
            "cost": _s(audit.cost),
            "records_share": _s(audit.records_share),
            "cost_share": _s(audit.cost_share),
            "by_method": {k: v for k, v in audit.by_method.items() if v},
        },
        "quarantine": [
            {
                "code": g.code,
                "field": g.field,
                "records": g.count,
                "example": g.example,
                "first_lines": g.lines,
            }
            for g in audit.reasons
        ],  # fmt: skip
    }


__all__ = ["MAX_RECORDS", "PayloadError", "ReasonGroup", "SampleAudit", "as_json", "audit_sample"]
