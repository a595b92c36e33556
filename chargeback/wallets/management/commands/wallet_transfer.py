from django.core.exceptions import ValidationError

from chargeback.money import quantize
from chargeback.tenancy.scoping import OrgCommand
from chargeback.wallets.accounts import find_wallet
from chargeback.wallets.ledger import transfer
from chargeback.wallets.management.commands._wallet_args import one_line
from chargeback.wallets.models import WalletKind


class Command(OrgCommand):
    help = "Move money between two wallets of the organisation (two balanced entries)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", required=True, help="unit code or central")
        parser.add_argument("--to", dest="target", required=True, help="unit code or central")
        parser.add_argument("--from-kind", choices=WalletKind.values, default=None)
        parser.add_argument("--to-kind", choices=WalletKind.values, default=None)
        parser.add_argument("--amount", required=True, help="a decimal amount")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--key", default="", help="idempotency key")

    def handle_org(self, org, *args, **opts):
        try:
            source = self._wallet(org, opts["source"], opts["from_kind"], "from")
            target = self._wallet(org, opts["target"], opts["to_kind"], "to")
            out, into = transfer(
                source=source,
                target=target,
                amount=opts["amount"],
                reason=opts["reason"],
                key=opts["key"],
                actor="wallet_transfer command",
            )
        except ValidationError as exc:
            raise one_line(exc) from exc
        source.refresh_from_db()
        target.refresh_from_db()
        self.stdout.write(
            f"transfer {out.transfer}: {source.name} balance={quantize(source.balance, source.currency)}, "
            f"{target.name} balance={quantize(target.balance, target.currency)}"
        )

    def _wallet(self, org, name, kind, flag):
        try:
            wallet = find_wallet(org, name, kind)
        except ValidationError as exc:
            raise ValidationError({flag: exc.messages[0]}) from exc
        if wallet is None:
            raise ValidationError({flag: f'"{name}" has no {kind or "team"} wallet'})
        return wallet
