"""The task that sends one Delivery (an alert on one channel), retried with exponential
backoff (Celery autoretry) and recorded on the Delivery: attempts, status, last error, response
code. Queued by checks.py once the alert's transaction commits."""

from __future__ import annotations

from django.db.models import F

from chargeback.budgets import channels
from chargeback.budgets.models import Channel, Delivery, DeliveryStatus
from chargeback.tenancy.scoping import org_task

MAX_RETRIES = 6


@org_task(
    Delivery,
    name="budgets.deliver",
    bind=True,
    autoretry_for=(channels.DeliveryFailed,),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def deliver(self, delivery_id: int, *, organization) -> str:
    delivery = Delivery.objects.select_related("alert__unit", "alert__organization", "webhook").get(
        pk=delivery_id
    )
    if delivery.status == DeliveryStatus.SENT:
        return delivery.status
    Delivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    try:
        code = _send(delivery)
    except channels.DeliveryFailed as exc:
        last = self.request.retries >= MAX_RETRIES
        Delivery.objects.filter(pk=delivery.pk).update(
            last_error=str(exc)[:2000],
            response_code=exc.code,
            status=DeliveryStatus.FAILED if last else DeliveryStatus.PENDING,
        )
        raise
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENT, response_code=code, last_error=""
    )
    return DeliveryStatus.SENT


def _send(delivery: Delivery) -> int | None:
    if delivery.channel == Channel.EMAIL:
        try:
            channels.send_email(delivery.alert, delivery.recipients)
        except OSError as exc:
            raise channels.DeliveryFailed(f"email: {exc}") from exc
        return None
    if delivery.webhook is None or not delivery.webhook.active:
        raise channels.DeliveryFailed("the webhook was removed or deactivated")
    return channels.post_webhook(delivery.alert, delivery.webhook)
