from django.core.management.base import BaseCommand

from chargeback.provisioning.demo import DEMO_PASSWORD, USERS, seed_demo
from chargeback.tenancy.scoping import within
from chargeback.usage.models import IngestBatch


class Command(BaseCommand):
    help = "Create the realistic demo organisation (acme). Safe to run twice."

    def handle(self, *args, **opts):
        org, created = seed_demo()
        verb = "created" if created else "already present"
        self.stdout.write(f"demo organisation {org.slug} ({org.name}) {verb}")
        with within(org):
            batch = IngestBatch.objects.filter(organization=org, source="demo").first()
        if batch is not None:
            self.stdout.write(f"demo traffic: {batch.counts_line}")
        self.stdout.write(f"demo logins (password: {DEMO_PASSWORD}):")
        for email, _name, role, led in USERS:
            extra = f" of {', '.join(led)}" if led else ""
            self.stdout.write(f"  {role:<10} {email}{extra}")
