from chargeback.budgets.checks import check_budgets
from chargeback.budgets.models import AlertKind
from chargeback.tenancy.scoping import OrgCommand


class Command(OrgCommand):
    help = (
        "Run the budget threshold and forecast checks now (beat runs them every 15 minutes); "
        "prints `alert <unit> <threshold>%` (or `alert <unit> forecast`) per alert fired, "
        "or `no new alerts`."
    )

    def handle_org(self, org, *args, **opts):
        alerts = check_budgets(organization=org, actor="command: check_budgets")
        for alert in alerts:
            what = "forecast" if alert.kind == AlertKind.FORECAST else f"{alert.threshold}%"
            self.stdout.write(f"alert {alert.unit.code} {what}")
        if not alerts:
            self.stdout.write("no new alerts")
