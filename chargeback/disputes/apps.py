from django.apps import AppConfig


class DisputesConfig(AppConfig):
    name = "chargeback.disputes"
    label = "disputes"
    verbose_name = "Disputes"

    def ready(self) -> None:
        # Billing cannot import disputes (layers): tell it which statements an open dispute
        # holds open, and which credit and adjustment lines the next drafts carry. Importing
        # `tasks` registers the beat task with every process.
        from chargeback.billing import (  # noqa: PLC0415 (apps are loaded by now)
            dispute_story,
            finality,
        )
        from chargeback.billing.signals import statements_issued  # noqa: PLC0415 (same)
        from chargeback.disputes import (  # noqa: PLC0415 (apps are loaded by now)
            announce,
            carry,
            queries,
            story,
            tasks,
        )
        from chargeback.tenancy.navigation import register_badge  # noqa: PLC0415 (same)

        finality.register_hold(carry.open_disputes_hold)
        finality.register_carried_lines(carry.carried_lines)
        dispute_story.register_notes(story.notes)
        tasks.finalize_due_statements  # noqa: B018 (registered on import)
        # Each unit's people are told when its statement is issued.
        statements_issued.connect(announce.statements_issued, dispatch_uid="disputes.issued")
        # The number of open disputes next to the navigation's Disputes item.
        register_badge("disputes:dispute-list", queries.nav_badge)
