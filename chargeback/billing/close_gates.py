"""Close gates: checks a period must pass before it may be closed (its statements made final).

A gate is a function `fn(organization, period, today) -> str | None`: `period` is the
`BillingPeriod` being closed (in review, locked by the close), `today` the date in the
organisation's timezone. It returns None when the period may close as far as it is concerned,
or a refusal message that says why not and what to do.

    from chargeback.billing import close_gates
    close_gates.register("reconciliation_variance", my_gate)   # e.g. in AppConfig.ready

`register(name, fn)` adds (or, under the same name, replaces) a gate; apps above billing
register theirs in their `AppConfig.ready`, billing registers its own here. `refusals(...)`
runs every gate in registration order and returns `{name: message}` for those that refuse.

A refusal can be overridden by a finance user with a written reason (`close.close_period(...,
override_reason=...)`): the close then goes ahead, and the reason, who gave it and the
refusals it overrode are stored on the period (`close_override`, `closed_by_label`), written
to the audit log, and shown on every statement of the month (page and PDF). Holds (an open
dispute, `finality.holds`) are not gates: they cannot be overridden.

Billing's own gate, `dispute_window`: a period whose statements' dispute window has not ended
(today is on or before the deadline) may not be closed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from chargeback.billing.models import BillingPeriod
from chargeback.tenancy.models import Organization

Gate = Callable[[Organization, BillingPeriod, dt.date], "str | None"]
_gates: dict[str, Gate] = {}


def register(name: str, fn: Gate) -> Gate:
    """Add the gate `fn` under `name` (the same name again replaces it)."""
    _gates[name] = fn
    return fn


def refusals(organization: Organization, period: BillingPeriod, today: dt.date) -> dict[str, str]:
    """{gate name: refusal} for every gate that refuses to let `period` close today."""
    out: dict[str, str] = {}
    for name, fn in list(_gates.items()):
        message = fn(organization, period, today)
        if message:
            out[name] = message
    return out


def dispute_window(organization: Organization, period: BillingPeriod, today: dt.date) -> str | None:
    deadline = period.dispute_deadline
    if deadline is None or today > deadline:
        return None
    return (
        f"the dispute window of {period.label} is open until {deadline:%A %-d %B %Y}: "
        "team leads may still dispute its statements. Close it after that day, or override "
        "with a written reason (shown to the team leads on every statement)"
    )


register("dispute_window", dispute_window)
