"""The close's tasks on a real worker: a claimed generation runs through its stages to DONE,
and the PDFs of issued statements are rendered by the worker after the issue commits."""

import datetime as dt

import pytest

from chargeback.billing import period_state
from chargeback.billing.close import issue_statements, period_for
from chargeback.billing.models import BillingPeriod, DraftStatus, PdfStatus, Statement
from chargeback.billing.tasks import queue_drafts, queue_pdfs
from chargeback.calendar import Period
from chargeback.tenancy.scoping import within
from tests.integration.conftest import wait_for
from tests.usage.conftest import event, ingest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

OCT = Period.parse("2026-10")


def test_drafts_and_pdfs_are_made_by_the_worker(celery_worker, priced_org):
    ingest(priced_org, [event(f"r{i}", tags={"team": "SUP"}) for i in range(3)])
    with within(priced_org):  # as the close page and the command run them
        billing = period_for(priced_org, OCT)
        assert period_state.claim_drafting(billing)
        assert not period_state.claim_drafting(billing)  # one generation at a time
        queue_drafts(billing.pk, None)

        def drafted():
            status = BillingPeriod.objects.get(pk=billing.pk).draft_status
            return status if status in (DraftStatus.DONE, DraftStatus.FAILED) else None

        assert wait_for(drafted, timeout=60) == DraftStatus.DONE
        billing.refresh_from_db()
        assert period_state.progress(billing) == {"percent": 100, "label": "Done", "running": False}
        count = Statement.objects.filter(period=billing).count()
        assert count and billing.draft_done == count

        issue_statements(priced_org, OCT, today=dt.date(2026, 11, 2), queue_pdfs=queue_pdfs)

        def rendered():
            statuses = set(
                Statement.objects.filter(period=billing).values_list("pdf_status", flat=True)
            )
            return statuses if statuses.isdisjoint({PdfStatus.QUEUED, PdfStatus.NONE}) else None

        assert wait_for(rendered, timeout=120) == {PdfStatus.DONE}
