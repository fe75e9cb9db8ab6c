"""A provider's answer holding NUL bytes (raw, or escaped in its JSON) is storable: the job
ends as it should, on PostgreSQL too (which refuses NUL in text), and says what was said."""

import pytest

from suppression_admin.audit.models import OperationStatus
from tests.woodpecker.factories import addresses, run, start_job

pytestmark = pytest.mark.usefixtures("fake_woodpecker")


@pytest.mark.parametrize("body", ['{"detail": "bad\\u0000value"}', '{"detail": "bad\x00value"}'])
def test_a_refusal_with_a_nul_stops_the_job_cleanly(operator, fake_woodpecker, clock, body):
    fake_woodpecker.on("DELETE", lambda request: (400, {}, body))
    job = run(start_job(operator, addresses(3)))
    assert job.status == OperationStatus.STOPPED
    assert "bad\ufffdvalue" in job.stop_reason
    call = job.operation.calls.get()
    assert "\x00" not in call.answer_excerpt + call.error
    # The answer as it came, the NUL replaced (escaped in JSON, it stays an escape).
    assert "\ufffd" in call.answer_excerpt or "\\ufffd" in call.answer_excerpt
