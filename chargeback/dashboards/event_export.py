"""The events export as a browser download, with the dashboard's filters: the window
(period, from, to) and the unit (its subtree), streamed as CSV, NDJSON or FOCUS 1.3/1.0
(StreamingHttpResponse, formula-safe CSV). Finance, admins and viewers get every unit; a team
lead only its units' subtrees. Also read by the streaming API endpoint."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from django.utils import timezone

from chargeback.dashboards import queries
from chargeback.dashboards.periods import parse_window
from chargeback.reconciliation.exports import export_lines
from chargeback.tenancy.models import Membership
from chargeback.tenancy.scoping import within
from chargeback.units.queries import visible_unit_ids

FORMATS = ("csv", "ndjson", "focus")
FOCUS_VERSIONS = ("1.3", "1.0")
LINKS = (  # the page's download links: label, query
    ("CSV", "format=csv"),
    ("NDJSON", "format=ndjson"),
    ("FOCUS 1.3", "format=focus"),
    ("FOCUS 1.0", "format=focus&focus_version=1.0"),
)
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
    "focus": "text/csv; charset=utf-8",
}


class ExportRequestError(ValueError):
    """A parameter that cannot be read: `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class OutOfReach(LookupError):
    """A unit the membership cannot see (or another organisation's): a 404."""


@dataclass(frozen=True)
class EventExport:
    membership: Membership
    fmt: str
    version: str
    first: dt.date
    last: dt.date
    unit_ids: set[int] | None

    @property
    def filename(self) -> str:
        ext = "ndjson" if self.fmt == "ndjson" else "csv"
        kind = f"focus-{self.version}" if self.fmt == "focus" else "events"
        org = self.membership.organization.slug
        return f"{org}-{kind}-{self.first}-{self.last}.{ext}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.fmt]

    def lines(self) -> Iterator[str]:
        """The file's lines; read in the organisation's scope, since a streaming response is
        consumed after the view (and the request's scope) has returned."""
        org, first, last = self.membership.organization, self.first, self.last
        with within(org):
            yield from export_lines(org, self.fmt, self.version, first, last, self.unit_ids)


def _choice(params: Mapping[str, str], field: str, choices: tuple[str, ...]) -> str:
    value = params.get(field)
    if value is None:
        return choices[0]
    if value not in choices:
        raise ExportRequestError(field, f'"{value[:40]}" is not one of {", ".join(choices)}')
    return value


def parse_export(membership: Membership, params: Mapping[str, str]) -> EventExport:
    """The export the query string asks for; ExportRequestError names a bad parameter and
    OutOfReach a unit the membership cannot see."""
    fmt = _choice(params, "format", FORMATS)
    version = _choice(params, "focus_version", FOCUS_VERSIONS)
    org = membership.organization
    today = timezone.now().astimezone(org.tz).date()
    window, errors = parse_window(params, today)
    if errors:
        text = errors[0]
        field = "period" if "is not a period" in text else "to" if "for to" in text else "from"
        raise ExportRequestError(field, errors[0])
    reach = visible_unit_ids(membership)
    raw_unit = params.get("unit")
    unit = None
    if raw_unit is not None:
        if not raw_unit.isdigit() or len(raw_unit) > 12:
            raise ExportRequestError("unit", f'"{raw_unit[:40]}" is not a unit id')
        unit = int(raw_unit)
    units = queries.load_units(org)
    if unit is not None and (unit not in units or (reach is not None and unit not in reach)):
        raise OutOfReach(unit)
    ids = queries.page_unit_ids(units, reach=reach, filter_unit=unit)
    return EventExport(membership, fmt, version, window.first, window.last, ids)


SINCE_DAYS = re.compile(r"([0-9]{1,4})d")
SINCE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
UNIT_CODE = re.compile(r"[^\x00-\x1f]{1,50}")
EARLIEST = dt.date(1970, 1, 1)


def parse_since_export(membership: Membership, params: Mapping[str, str]) -> EventExport:
    """The API's export: `since` (30d, the last 30 days with today, or a date YYYY-MM-DD; 30d
    when absent) to today, of one unit's subtree by its code (`unit`) or of every unit in the
    membership's reach. Values are taken as given (no trimming)."""
    fmt = _choice(params, "format", FORMATS)
    version = _choice(params, "focus_version", FOCUS_VERSIONS)
    org = membership.organization
    today = timezone.now().astimezone(org.tz).date()
    raw = params.get("since", "30d")
    if days := SINCE_DAYS.fullmatch(raw):
        since = today - dt.timedelta(days=max(int(days.group(1)) - 1, 0))
    else:
        try:
            since = dt.date.fromisoformat(raw) if SINCE_DATE.fullmatch(raw) else None
        except ValueError:
            since = None
        if since is None:
            raise ExportRequestError(
                "since", f'"{raw[:40]}" is not a number of days (30d) or a date (YYYY-MM-DD)'
            )
    code = params.get("unit")
    if code is not None and not UNIT_CODE.fullmatch(code):
        raise ExportRequestError("unit", "not a unit code (1 to 50 characters, no control ones)")
    units = queries.load_units(org)
    reach = visible_unit_ids(membership)
    unit = None
    if code is not None:
        unit = next((u.id for u in units.values() if u.code == code), None)
        if unit is None or (reach is not None and unit not in reach):
            raise OutOfReach(code)
    ids = queries.page_unit_ids(units, reach=reach, filter_unit=unit)
    return EventExport(membership, fmt, version, max(since, EARLIEST), today, ids)
