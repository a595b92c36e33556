import json

from chargeback.money import format_money
from chargeback.tenancy.scoping import OrgCommand
from chargeback.wallets.queries import wallet_rows


class Command(OrgCommand):
    help = "List the organisation's wallets: balance, reserved, available and the limit flag."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle_org(self, org, *args, **opts):
        rows = wallet_rows(org)
        if opts["format"] == "json":
            doc = {
                "organization": org.slug,
                "currency": org.currency,
                "wallets": [r.as_json() for r in rows],
            }
            self.stdout.write(json.dumps(doc, indent=2))
            return
        self.stdout.write(f"Wallets of {org.slug} ({org.currency})")
        if not rows:
            self.stdout.write("no wallets: fund one with wallet_post, or import a wallets: file")
            return
        head = (
            f"{'unit':<20} {'kind':<13} {'balance':>16} {'reserved':>16} {'available':>16}  limit"
        )
        self.stdout.write(head)
        for r in rows:
            money = [format_money(v, org.currency) for v in (r.balance, r.reserved, r.available)]
            limit = "hard" if r.hard_limit else "soft"
            self.stdout.write(
                f"{r.unit:<20} {r.kind:<13} {money[0]:>16} {money[1]:>16} {money[2]:>16}  {limit}"
            )
