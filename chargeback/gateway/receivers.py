"""What the gateway tells the apps below it when Django starts."""

from chargeback.gateway.queries import counts_by_wallet
from chargeback.wallets.decision_counts import register

register(counts_by_wallet)
