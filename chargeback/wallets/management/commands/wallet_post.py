from django.core.exceptions import ValidationError

from chargeback.money import quantize
from chargeback.tenancy.scoping import OrgCommand
from chargeback.wallets.accounts import find_wallet, open_wallet, resolve
from chargeback.wallets.ledger import POSTABLE, post_entry
from chargeback.wallets.management.commands._wallet_args import one_line
from chargeback.wallets.models import EntryType, WalletKind


class Command(OrgCommand):
    help = (
        "Post funding, a top-up or an adjustment to a wallet. A unit without a wallet of the "
        "kind gets one (hard limit) on its first funding or top-up. The same --key posts once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--wallet", required=True, help="a unit code, or central")
        parser.add_argument("--kind", choices=WalletKind.values, default=None)
        parser.add_argument("--type", required=True, choices=[str(t) for t in POSTABLE])
        parser.add_argument("--amount", required=True, help="a decimal amount")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--key", default="", help="idempotency key")

    def handle_org(self, org, *args, **opts):
        actor = "wallet_post command"
        try:
            wallet = find_wallet(org, opts["wallet"], opts["kind"])
            if wallet is None:
                if opts["type"] == EntryType.ADJUSTMENT:
                    raise ValidationError({"wallet": "has no wallet yet: fund it first"})
                unit, kind = resolve(org, opts["wallet"], opts["kind"])
                wallet = open_wallet(organization=org, unit=unit, kind=kind, actor=actor)
            entry = post_entry(
                wallet=wallet,
                type=opts["type"],
                amount=opts["amount"],
                reason=opts["reason"],
                key=opts["key"],
                actor=actor,
            )
        except ValidationError as exc:
            raise one_line(exc) from exc
        wallet.refresh_from_db()
        self.stdout.write(
            f"entry {entry.pk}: {wallet.name} balance={quantize(wallet.balance, wallet.currency)}"
        )
