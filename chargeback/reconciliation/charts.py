"""The reconciliation's waterfall: from metered to billed through the causes and the
unexplained rest (floats only here, through `money.plot_number`)."""

from __future__ import annotations

from chargeback.money import plot_number
from chargeback.reconciliation.engine import Reconciliation
from chargeback.reconciliation.report import CAUSE_LABELS


def waterfall_figure(result: Reconciliation) -> dict:
    steps = [("Metered", result.metered, "absolute")]
    steps += [(CAUSE_LABELS[c.cause], c.amount, "relative") for c in result.causes if c.amount]
    if result.unexplained:
        steps.append(("Unexplained", result.unexplained, "relative"))
    steps.append(("Billed", result.billed, "total"))
    return {
        "data": [
            {
                "type": "waterfall",
                "orientation": "v",
                "measure": [m for _, _, m in steps],
                "x": [label for label, _, _ in steps],
                "y": [plot_number(amount) for _, amount, _ in steps],
                "connector": {"line": {"color": "#9aa5b1"}},
                "hovertemplate": f"%{{x}}: %{{y:,.2f}} {result.currency}<extra></extra>",
            }
        ],
        "layout": {
            "height": 320,
            "margin": {"l": 70, "r": 20, "t": 10, "b": 90},
            "yaxis": {"title": {"text": result.currency}},
            "showlegend": False,
        },
    }
