"""An in-memory index of a price book for fast lookups during ingestion (pure)."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from chargeback.pricing.prices import Rates


@dataclass(frozen=True)
class PricePoint:
    price_id: int
    provider: str
    model: str
    effective_from: dt.datetime
    version: int
    rates: Rates
    currency: str


class PriceIndex:
    """Lookup of the price in force for (provider, model) at an instant."""

    def __init__(self, points: list[PricePoint]) -> None:
        grouped: dict[tuple[str, str], list[PricePoint]] = defaultdict(list)
        for p in points:
            grouped[(p.provider, p.model)].append(p)
        self._points = {
            k: sorted(v, key=lambda p: (p.effective_from, p.version)) for k, v in grouped.items()
        }
        self._starts = {k: [p.effective_from for p in v] for k, v in self._points.items()}

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._points

    def find(self, provider: str, model: str, at: dt.datetime) -> PricePoint | None:
        points = self._points.get((provider, model))
        if not points:
            return None
        i = bisect.bisect_right(self._starts[(provider, model)], at)
        return points[i - 1] if i else None
