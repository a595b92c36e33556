"""What the ingestion stages share and hand on: the batch's `Context` (loaded once a batch),
a `Priced` event, a `Prepared` chunk and a `Quarantined` record. No logic but the loading."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection
from django.utils import timezone

from chargeback.pricing.books import price_index
from chargeback.pricing.index import PriceIndex, PricePoint
from chargeback.pricing.models import ModelAlias
from chargeback.tenancy.models import Organization
from chargeback.units.attribution import Directory
from chargeback.units.models import GatewayKey
from chargeback.units.queries import attribution_directory
from chargeback.usage.models import IngestBatch
from chargeback.usage.rollup import LocalDays
from chargeback.usage.validation import Draft, Reason


@dataclass
class Context:
    organization: Organization
    now: dt.datetime
    directory: Directory
    prices: PriceIndex
    aliases: dict[tuple[str, str], tuple[str, str]]
    key_defaults: dict[str, dict[str, str]]
    # "\t<org>\t<batch>\t", the end of every COPY line but the time (PostgreSQL); "" elsewhere
    copy_ids: str = ""
    # Memos of pure lookups, kept for one batch: normalise() and attribute() results, the
    # COPY segments of (price, raw model), rates in integers, UTC hours -> local days.
    names: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    owners: dict[tuple, tuple] = field(default_factory=dict)
    segments: dict[tuple[int, str, str], tuple] = field(default_factory=dict)
    rates: dict[int, tuple[int, ...]] = field(default_factory=dict)
    local_day: LocalDays = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.local_day is None:
            self.local_day = LocalDays(self.organization.tz)


def load_context(organization: Organization, batch: IngestBatch | None = None) -> Context:
    keys = GatewayKey.objects.filter(organization=organization, archived=False).select_related(
        "service"
    )
    now = timezone.now()
    return Context(
        organization=organization,
        now=now,
        directory=attribution_directory(organization),
        prices=price_index(organization),
        aliases={
            (a.provider, a.raw.lower()): (a.canonical_provider, a.canonical_model)
            for a in ModelAlias.objects.filter(organization=organization)
        },
        key_defaults={
            k.key_id: {
                "service": k.service.name if k.service_id else "",
                "environment": k.environment,
            }
            for k in keys
        },
        copy_ids=(
            f"\t{organization.pk}\t{batch.pk}\t"
            if batch is not None and connection.vendor == "postgresql"
            else ""
        ),
    )


class Quarantined(NamedTuple):
    """A record that is not stored, and why."""

    position: int  # the record's line (NDJSON, CSV) or index (JSON)
    request_id: str
    raw: str
    reasons: list[Reason]


@dataclass(slots=True)
class Priced:
    """A valid, normalised record with its price point; cost, owner, COPY line and rollup key
    are filled in only when it is not already stored (`pipeline.price_chunk`)."""

    position: int
    raw: dict[str, Any]
    draft: Draft
    provider: str
    model: str
    point: PricePoint
    price_method: str = ""  # how the price was found when not directly (pricing.fallback)
    pico: int = 0  # the cost in units of 10^-12 of the currency (exact)
    unit_id: int = 0
    method: str = ""
    line: str = ""  # the COPY text line (PostgreSQL)
    key: tuple = ()  # the rollup key: (local day, rows.Owner, rows.Names)

    @property
    def cost(self) -> Decimal:
        return Decimal(self.pico).scaleb(-12)


@dataclass(slots=True)
class Prepared:
    size: int  # records in the chunk
    priced: list[Priced]  # the valid ones, in order
    quarantined: list[Quarantined]
    # Found stored before the chunk's transaction (final: a stored event never changes):
    repeats: int = 0  # with the same usage: duplicates
    conflicts: list[Priced] = field(default_factory=list)  # with other usage
    # The others, priced; None when the chunk comes from a preparer process (`slim`): then
    # `fresh_count`, `text` and `totals` stand for them, and `raw` holds the chunk's lines.
    fresh: list[Priced] | None = field(default_factory=list)
    prechecked: bool = False  # the ids were looked up before the transaction
    text: str | None = None  # COPY text of `fresh` (PostgreSQL)
    # rollup increments of `fresh`: rollup key -> sums in the order of rollup.ROLLUP_SUMS
    totals: dict[tuple, list[int]] = field(default_factory=dict)
    fresh_count: int = 0
    raw: bytes = b""
    first_line: int = 0
