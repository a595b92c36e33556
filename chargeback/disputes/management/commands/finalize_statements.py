from chargeback.billing.finality import finalize_due
from chargeback.tenancy.scoping import OrgCommand


class Command(OrgCommand):
    help = (
        "Make final every issued statement whose review window has passed and which has no "
        "open dispute; prints `final <number>` for each. Beat does it too; running it twice "
        "finalizes nothing the second time."
    )

    def handle_org(self, org, *args, **opts):
        done = finalize_due(org, actor="finalize_statements command")
        return "\n".join(f"final {s.number}" for s in done) or "no statement to finalize"
