"""Data migrations of the woodpecker app."""

import importlib

import pytest
from django.apps import apps

from suppression_admin.audit.models import ProviderCall
from tests.woodpecker.factories import addresses, start_job

fill_call_batch = importlib.import_module(
    "suppression_admin.woodpecker.migrations.0002_fill_call_batch"
)


@pytest.mark.usefixtures("live_providers")
def test_calls_of_jobs_from_before_batch_existed_get_their_chunk(operator):
    job = start_job(operator, addresses(3), schedule=False)
    purposes = [
        "remove chunk 1",
        "look-up to settle an unknown outcome",
        "remove chunk 12 (attempt 2)",
    ]
    for sequence, purpose in enumerate(purposes, start=1):
        ProviderCall.objects.create(
            operation=job.operation, sequence=sequence, purpose=purpose, method="DELETE", path="/"
        )

    fill_call_batch.fill_batch(apps, None)

    batches = list(job.operation.calls.order_by("sequence").values_list("batch", flat=True))
    assert batches == [0, None, 11]
