from celery import shared_task

from chargeback.usage.ingest import process_batch


@shared_task(name="usage.process_batch", acks_late=True, reject_on_worker_lost=True)
def process_batch_task(batch_id: int) -> str:
    # process_batch enters the batch's organisation through tenancy.scoping.scope_of.
    return process_batch(batch_id).counts_line


@shared_task(name="usage.requeue_stuck_batches")
def requeue_stuck_batches() -> list[int]:
    from chargeback.usage.ingest import requeue_stuck

    return requeue_stuck()
