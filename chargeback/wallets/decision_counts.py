"""Gateway decision counts on the wallet pages. The gateway app sits above wallets, so wallets
cannot ask it; it tells, once, when Django starts (its AppConfig.ready):

- `register(fn)`: `fn(organization, wallet_ids, since) -> {wallet_id: {"allowed": n,
  "denied": n, "would_deny": n}}`, the decisions taken on those wallets since an instant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from chargeback.tenancy.models import Organization

Counts = dict[int, dict[str, int]]
Counter = Callable[[Organization, list[int], dt.datetime], Counts]
_counters: list[Counter] = []


def register(fn: Counter) -> Counter:
    if fn not in _counters:
        _counters.append(fn)
    return fn


def decision_counts(
    organization: Organization, wallet_ids: Iterable[int], since: dt.datetime
) -> Counts:
    """Every registered counter's counts, added up per wallet ({} when none is registered)."""
    ids = list(wallet_ids)
    out: Counts = {}
    for fn in _counters:
        for wallet_id, counts in fn(organization, ids, since).items():
            mine = out.setdefault(wallet_id, {})
            for key, n in counts.items():
                mine[key] = mine.get(key, 0) + n
    return out
