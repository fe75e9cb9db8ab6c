"""A provider's answer holding NUL bytes or other control characters (raw, or escaped in its
JSON) is storable: the job ends as it should, on PostgreSQL too (which refuses NUL in text),
and says what was said, each such character shown as U+FFFD."""

import pytest

from suppression_admin.audit.models import OperationStatus
from suppression_admin.outside_text import has_unsafe
from tests.woodpecker.factories import addresses, run, start_job

pytestmark = pytest.mark.usefixtures("fake_woodpecker")


@pytest.mark.parametrize(
    "body",
    [
        '{"detail": "bad\\u0000value"}',
        '{"detail": "bad\x00value"}',
        '{"detail": "bad\\u001Bvalue"}',
        '{"detail": "bad\x07value"}',
        '{"detail": "bad\\u202evalue"}',
        '{"detail": "bad\u2066value"}',
    ],
    ids=["nul-escaped", "nul-raw", "escape-escaped", "bell-raw", "rlo-escaped", "isolate-raw"],
)
def test_a_refusal_with_a_control_character_stops_the_job_cleanly(
    operator, fake_woodpecker, clock, body
):
    fake_woodpecker.on("DELETE", lambda request: (400, {}, body))
    job = run(start_job(operator, addresses(3)))
    assert job.status == OperationStatus.STOPPED
    assert "bad\ufffdvalue" in job.stop_reason
    call = job.operation.calls.get()
    assert not has_unsafe(call.answer_excerpt + call.error + job.stop_reason)
    # The answer as it came, the character replaced (escaped in JSON, it stays an escape).
    assert "\ufffd" in call.answer_excerpt or "\\ufffd" in call.answer_excerpt
