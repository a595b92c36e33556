"""Which tier a unit's month reaches (volume) or which bands it touches (graduated). Pure."""

from __future__ import annotations

from collections.abc import Iterable

from chargeback.allocation.policy import Tier


def tier_for(tiers: Iterable[Tier], tokens: int) -> Tier:
    """The tier a month of `tokens` reaches; `up_to_tokens` is exclusive."""
    tiers = tuple(tiers)
    return next((t for t in tiers if t.up_to_tokens is None or tokens < t.up_to_tokens), tiers[-1])


def graduated_bands(tiers: Iterable[Tier], tokens: int) -> list[tuple[Tier, int]]:
    """(tier, tokens in its band) for every band the month touches."""
    bands, lower = [], 0
    for tier in tiers:
        upper = tokens if tier.up_to_tokens is None else min(tokens, tier.up_to_tokens)
        if upper > lower:
            bands.append((tier, upper - lower))
        if tier.up_to_tokens is None or tokens < tier.up_to_tokens:
            break
        lower = tier.up_to_tokens
    return bands
