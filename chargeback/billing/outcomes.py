"""Outcome counts for activity rates: parse records (from the API's JSON or a CSV upload),
check them against the organisation, and upsert them in one transaction.

A record is `{unit, month, outcome, count}`: a unit code, a month (YYYY-MM), an outcome name
(`[a-z0-9_]+`) and a whole number >= 0. A new count for the same (unit, month, outcome)
replaces the stored one. Every bad record is reported with its position, field and reason, and
nothing is written when any record is bad. Months already issued are refused: their
statements are immutable, so a count changed afterwards would bill nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from chargeback.audit.log import record
from chargeback.billing.models import BillingPeriod, OutcomeCount, PeriodState
from chargeback.calendar import Period, is_month
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit

FIELDS = ("unit", "month", "outcome", "count")
OUTCOME = re.compile(r"[a-z0-9_]+")
INTEGER = re.compile(r"^-?[0-9]{1,30}$")
MAX_OUTCOME = 100
MAX_COUNT = 2**63 - 1
MAX_RECORDS = 50_000


@dataclass(frozen=True)
class Problem:
    """One bad value: `position` is the record's index (API, from 0) or the CSV row (the
    header is row 1)."""

    position: int
    field: str  # "" when the record as a whole is wrong
    reason: str

    def as_json(self, kind: str = "index") -> dict:
        return {kind: self.position, "field": self.field or None, "message": self.reason}

    def label(self, kind: str = "record") -> str:
        where = f"{kind} {self.position}"
        return f"{where}, {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


class OutcomeError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.label() for p in problems[:5]))


@dataclass(frozen=True)
class OutcomeRecord:
    position: int
    unit: str
    month: dt.date
    outcome: str
    count: int

    @property
    def key(self) -> tuple[str, dt.date, str]:
        return (self.unit, self.month, self.outcome)

    @property
    def label(self) -> str:
        return f"{self.unit} {self.month:%Y-%m} {self.outcome}"


@dataclass(frozen=True)
class OutcomeImport:
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


# Reading ------------------------------------------------------------------------------------


def read_csv(text: str) -> list[tuple[int, dict]]:
    """(row number, record) for each data row of a `unit,month,outcome,count` CSV. The header
    is row 1; blank lines are skipped. Raises OutcomeError for a bad header."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise OutcomeError([Problem(1, "", "the file is empty")]) from None
    except csv.Error as exc:
        raise OutcomeError([Problem(1, "", f"malformed CSV: {exc}")]) from None
    columns = [c.strip().lower() for c in header]
    missing = [c for c in FIELDS if c not in columns]
    unknown = [c for c in columns if c not in FIELDS]
    problems = []
    if missing:
        problems.append(Problem(1, "", f"missing column(s) {', '.join(missing)}"))
    if unknown:
        problems.append(
            Problem(1, "", f"unknown column(s) {', '.join(unknown)} (allowed: {', '.join(FIELDS)})")
        )
    if len(set(columns)) != len(columns):
        problems.append(Problem(1, "", "a column appears twice"))
    if problems:
        raise OutcomeError(problems)
    rows: list[tuple[int, dict]] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                rows.append((reader.line_num, {"__width__": len(row)}))
                continue
            rows.append((reader.line_num, dict(zip(columns, row, strict=True))))
    except csv.Error as exc:
        raise OutcomeError([Problem(reader.line_num, "", f"malformed CSV: {exc}")]) from None
    if not rows:
        raise OutcomeError([Problem(2, "", "no counts under the header")])
    return rows


def parse_records(
    organization: Organization,
    items: Iterable[tuple[int, Any]],
    *,
    today: dt.date | None = None,
) -> list[OutcomeRecord]:
    """Checked records, or OutcomeError listing every problem. `items` are (position, record)."""
    units = dict(
        BusinessUnit.objects.filter(organization=organization).values_list("code", "archived")
    )
    issued = set(
        BillingPeriod.objects.filter(organization=organization)
        .exclude(state=PeriodState.OPEN)
        .values_list("month", flat=True)
    )
    today = today or dt.datetime.now(organization.tz).date()
    problems: list[Problem] = []
    out: list[OutcomeRecord] = []
    seen: dict[tuple, int] = {}
    count = 0
    for position, raw in items:
        count += 1
        if count > MAX_RECORDS:
            problems.append(Problem(position, "", f"more than {MAX_RECORDS:,} records: split them"))
            break
        rec = _record(position, raw, units, issued, today, problems)
        if rec is None:
            continue
        if rec.key in seen:
            problems.append(
                Problem(position, "", f"a second count for {rec.label} (first at {seen[rec.key]})")
            )
            continue
        seen[rec.key] = position
        out.append(rec)
    if count == 0:
        problems.append(Problem(0, "", "no records: send at least one"))
    if problems:
        raise OutcomeError(problems)
    return out


def _record(position, raw, units, issued, today, problems) -> OutcomeRecord | None:  # noqa: PLR0913
    before = len(problems)

    def fail(field: str, reason: str) -> None:
        problems.append(Problem(position, field, reason))

    if not isinstance(raw, dict):
        fail("", f"must be an object with {', '.join(FIELDS)}, not {_show(raw)}")
        return None
    if "__width__" in raw:
        fail("", f"has {raw['__width__']} cells; the header has {len(FIELDS)}")
        return None
    for key in raw:
        if key not in FIELDS:
            fail(str(key)[:50], f"unknown field (allowed: {', '.join(FIELDS)})")
    unit = _text(raw.get("unit"))
    if unit is None:
        fail("unit", "required, a unit code" if not raw.get("unit") else "must be a unit code")
    elif unit not in units:
        fail("unit", f'unknown unit "{unit[:40]}"')
    month_text = _text(raw.get("month"))
    month = None
    if month_text is None:
        fail("month", "required, a month such as 2026-10")
    elif not is_month(month_text):
        fail("month", f'"{month_text[:40]}" is not a month (YYYY-MM)')
    else:
        month = Period.parse(month_text).first
        if month > today:
            fail("month", f"{month_text} is in the future")
        elif month in issued:
            fail(
                "month",
                f"{month_text} is already issued: its statements are immutable, so its "
                "outcome counts can no longer change",
            )
    outcome = _text(raw.get("outcome"))
    if outcome is None:
        fail("outcome", "required, a name such as resolved_ticket")
    elif len(outcome) > MAX_OUTCOME or not OUTCOME.fullmatch(outcome):
        fail(
            "outcome",
            f'"{outcome[:40]}" must be lower-case letters, digits and _ '
            f"(at most {MAX_OUTCOME} characters)",
        )
    count = _count(raw.get("count"), fail)
    if len(problems) > before:
        return None
    return OutcomeRecord(position, unit, month, outcome, count)  # type: ignore[arg-type]


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        return None
    return value.strip()


def _count(value: Any, fail) -> int | None:
    if isinstance(value, str) and INTEGER.match(value.strip()):
        value = int(value.strip())
    if value is None or value == "":
        fail("count", "required, a whole number of 0 or more")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        fail("count", f"must be a whole number of 0 or more, not {_show(value)}")
        return None
    if value < 0:
        fail("count", f"{value} must not be negative")
        return None
    if value > MAX_COUNT:
        fail("count", f"{value} is too large")
        return None
    return value


def _show(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value[:40] + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    return {list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


# Writing ------------------------------------------------------------------------------------


def import_outcomes(
    *,
    organization: Organization,
    records: list[OutcomeRecord],
    actor: Any,
    source: str = "api",
) -> OutcomeImport:
    """Upsert the records (a new count replaces the stored one) in one transaction, with one
    audit event. Race-safe: the write is an INSERT ... ON CONFLICT UPDATE."""
    units = dict(BusinessUnit.objects.filter(organization=organization).values_list("code", "pk"))
    with transaction.atomic():
        months = {r.month for r in records}
        # Checked again under the months' period locks, taken in month order as issuing takes
        # them: a month issued since the records were checked refuses the whole import, and
        # one being issued now waits for this import (its drafts then count as out of date).
        for month in sorted(months):
            BillingPeriod.objects.get_or_create(organization=organization, month=month)
        issued = [
            p.month
            for p in BillingPeriod.objects.select_for_update()
            .filter(organization=organization, month__in=months)
            .order_by("month")
            if p.state != PeriodState.OPEN
        ]
        if issued:
            raise OutcomeError(
                [
                    Problem(
                        r.position,
                        "month",
                        f"{r.month:%Y-%m} was issued meanwhile: its statements are immutable, "
                        "so its outcome counts can no longer change",
                    )
                    for r in records
                    if r.month in issued
                ]
            )
        existing = {
            (code, month, outcome): count
            for code, month, outcome, count in OutcomeCount.objects.filter(
                organization=organization,
                month__in=months,
                unit__code__in={r.unit for r in records},
            ).values_list("unit__code", "month", "outcome", "count")
        }
        created = updated = unchanged = 0
        before: dict[str, int] = {}
        after: dict[str, int] = {}
        rows = []
        for r in records:
            old = existing.get(r.key)
            if old is None:
                created += 1
            elif old == r.count:
                unchanged += 1
                continue
            else:
                updated += 1
                before[r.label] = old
            after[r.label] = r.count
            rows.append(
                OutcomeCount(
                    organization=organization,
                    unit_id=units[r.unit],
                    month=r.month,
                    outcome=r.outcome,
                    count=r.count,
                    source=source,
                )
            )
        if rows:
            OutcomeCount.objects.bulk_create(
                rows,
                batch_size=1000,
                update_conflicts=True,
                unique_fields=["organization", "unit", "month", "outcome"],
                update_fields=["count", "source", "updated_at"],
            )
        result = OutcomeImport(created, updated, unchanged)
        record(
            organization=organization,
            actor=actor,
            action="outcomes.imported",
            object_type="billing.outcomecount",
            object_repr=f"{result.total:,} outcome count(s) from {source}",
            before=before or None,
            after={
                "source": source,
                "created": created,
                "updated": updated,
                "unchanged": unchanged,
                "counts": after,
            },
        )
    return result
