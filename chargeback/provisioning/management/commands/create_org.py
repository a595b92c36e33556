from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chargeback.members.membership import set_password_link
from chargeback.pricing.books import no_prices_note
from chargeback.provisioning.orgs import create_organization
from chargeback.tenancy.models import Organization
from chargeback.tenancy.scoping import within


class Command(BaseCommand):
    help = "Create an organization with its central bucket and, optionally, its first admin."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True, help="URL name, e.g. acme")
        parser.add_argument("--name", required=True, help="Display name")
        parser.add_argument("--currency", default="USD", help="ISO 4217 code (default USD)")
        parser.add_argument("--timezone", default="UTC", help="IANA timezone, e.g. Europe/Berlin")
        parser.add_argument(
            "--country", default="", help="ISO 3166 code for the holiday calendar, e.g. DE"
        )
        parser.add_argument("--admin-email", default="", help="First admin; created if new")

    def handle(self, *args, **opts):
        if Organization.objects.filter(slug=opts["slug"]).exists():
            raise CommandError(f'slug: the slug "{opts["slug"]}" is already taken')
        try:
            org, membership = create_organization(
                slug=opts["slug"],
                name=opts["name"],
                currency=opts["currency"].upper(),
                timezone=opts["timezone"],
                country=opts["country"].upper(),
                admin_email=opts["admin_email"],
                actor="command:create_org",
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            ) from exc
        self.stdout.write(
            f"created organization {org.slug} ({org.name}, {org.currency}, {org.timezone})"
        )
        if membership is not None:
            user = membership.user
            if user.has_usable_password():
                self.stdout.write(f"admin: {user.email} (existing user)")
            else:
                self.stdout.write(
                    f"admin: {user.email}; set a password at {set_password_link(user)}"
                )
        with within(org):
            note = no_prices_note(org)
        if note:
            self.stdout.write(f"warning: {note}")
