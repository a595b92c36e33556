"""The reconciliation's waterfall: from metered to billed through the causes and the
unexplained rest (floats only here, through `money.plot_number`).

Drawn as floating bars (a bar trace with a `base` per step), which the basic Plotly bundle the
pages load can draw; the running sum is kept in Decimal and converted per coordinate."""

from __future__ import annotations

from decimal import Decimal

from chargeback.money import plot_number
from chargeback.reconciliation.engine import Reconciliation
from chargeback.reconciliation.report import CAUSE_LABELS

TOTAL, UP, DOWN = "#52606d", "#d9822b", "#3f9142"


def waterfall_steps(result: Reconciliation) -> list[tuple[str, Decimal, Decimal, str]]:
    """(label, base, height, colour) per bar: the two totals stand on zero, each cause and the
    unexplained rest float from the running sum before it."""
    steps = [("Metered", Decimal(0), result.metered, TOTAL)]
    running = result.metered
    moves = [(CAUSE_LABELS[c.cause], c.amount) for c in result.causes if c.amount]
    if result.unexplained:
        moves.append(("Unexplained", result.unexplained))
    for label, amount in moves:
        steps.append((label, running, amount, UP if amount > 0 else DOWN))
        running += amount
    steps.append(("Billed", Decimal(0), result.billed, TOTAL))
    return steps


def waterfall_figure(result: Reconciliation) -> dict:
    steps = waterfall_steps(result)
    return {
        "data": [
            {
                "type": "bar",
                "x": [label for label, _, _, _ in steps],
                "base": [plot_number(base) for _, base, _, _ in steps],
                "y": [plot_number(height) for _, _, height, _ in steps],
                "marker": {"color": [colour for _, _, _, colour in steps]},
                "hovertemplate": f"%{{x}}: %{{y:+,.2f}} {result.currency}<extra></extra>",
            }
        ],
        "layout": {
            "height": 320,
            "margin": {"l": 70, "r": 20, "t": 10, "b": 90},
            "yaxis": {"title": {"text": result.currency}},
            "showlegend": False,
        },
    }
