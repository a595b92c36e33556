"""Tasks scheduled on commit are executed by a real worker process over the broker."""

import pytest
from django.conf import settings
from django.db import connection

from chargeback.members.membership import add_member
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_runs_on_postgresql_with_a_broker():
    assert connection.vendor == "postgresql"
    assert settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://"))
    from chargeback.celery import app

    assert app.conf.task_always_eager is False


def test_invitation_mail_is_sent_by_the_worker(celery_worker, worker_mail_dir, org_a, admin):
    with within(org_a):
        membership, link = add_member(
            organization=org_a, actor=admin.user, email="new.member@alpha.example", role=Role.VIEWER
        )
    files = wait_for(lambda: sorted(worker_mail_dir.glob("*.log")))
    assert len(files) == 1
    text = files[0].read_text()
    assert "To: new.member@alpha.example" in text
    assert link in text
    assert "Alpha Industries as Viewer" in text
    assert celery_worker.poll() is None
