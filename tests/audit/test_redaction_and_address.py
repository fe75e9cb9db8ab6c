"""What the audit keeps of a request: never our API key, and the client's real address."""

import pytest
from django.test import RequestFactory

from suppression_admin.audit.models import ProviderCall
from suppression_admin.audit.redaction import redact
from suppression_admin.audit.services import AuditCallLog, ItemDraft
from suppression_admin.client_address import client_address
from tests.audit_factories import record_operation

KEY = "wp-Secret/Key+123"


@pytest.fixture(autouse=True)
def keys(settings):
    settings.WOODPECKER_API_KEY = KEY
    settings.WALEAD_API_KEY = "short"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Invalid key {KEY} given", "Invalid key [redacted] given"),
        ("GET /x?api_key=wp-Secret%2FKey%2B123&a=1", "GET /x?api_key=[redacted]&a=1"),
        ('{"x-api-key": "someone-elses"}', '{"x-api-key": "[redacted]"}'),
        ("X-API-KEY: abcdef123 next", "X-API-KEY: [redacted] next"),
        ("apikey=zzz", "apikey=[redacted]"),
        ("short keys are not hunted for: short", "short keys are not hunted for: short"),
        ("", ""),
        ('{"echo": "wp-Secret\\/Key+123"}', '{"echo": "[redacted]"}'),  # JSON-escaped
        ("q=wp-Secret%2fKey%2b123", "q=[redacted]"),  # lower-case escapes
        ("api key: abcdef123", "api key: [redacted]"),
        ('{\\"x-api-key\\": \\"abcdef123\\"}', '{\\"x-api-key\\": \\"[redacted]\\"}'),
        ("Authorization: Bearer abc.def.ghi next", "Authorization: Bearer [redacted] next"),
        ("api_key = 'two words'", "api_key = '[redacted]'"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_the_client_scrubs_its_key_before_anything_reads_the_answer():
    import responses

    from suppression_admin.providers.errors import ProviderAuthError
    from suppression_admin.providers.woodpecker import WoodpeckerClient

    url = "https://wp.test/rest"
    with responses.RequestsMock() as mocked:
        mocked.get(
            f"{url}/v2/blacklist/emails",
            status=401,
            json={"detail": f"Invalid api key {KEY}" + "x" * 3000 + KEY},
        )
        client = WoodpeckerClient(base_url=url, api_key=KEY)
        with pytest.raises(ProviderAuthError) as raised:
            client.list_page()
    error = raised.value
    assert KEY not in error.message
    assert KEY not in error.answer_excerpt
    assert "wp-Secret" not in error.answer_excerpt  # nothing cut in half at the excerpt's end
    assert "[redacted]" in error.message


@pytest.mark.django_db
def test_answers_errors_and_requests_are_stored_redacted(operator):
    operation = record_operation(operator, [ItemDraft("a@example.com")], finish=False)
    log = AuditCallLog(operation)
    call = log.started(
        method="GET", path=f"/v1/x?key={KEY}", item_count=1, body=f'{{"echo": "{KEY}"}}'
    )
    log.finished(
        call,
        status=401,
        answer_excerpt=f'{{"detail": "Invalid api key {KEY}"}}',
        error=f"Refused with key {KEY}",
        sent_at=call.started_at,
        duration_ms=5,
    )
    stored = ProviderCall.objects.get(pk=call.pk)
    for text in (stored.path, stored.request_body, stored.answer_excerpt, stored.error):
        assert KEY not in text
        assert "[redacted]" in text


def request(remote: str = "10.0.0.2", forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.7", "10.0.0.2"),  # no proxy of ours: the header is the client's word
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the left one is forged
        (2, "198.51.100.1, 203.0.113.7, 10.0.0.1", "203.0.113.7"),
        (2, "203.0.113.7", None),  # fewer hops than proxies: not told, never the proxy
        (1, None, None),
        (1, "not-an-address", None),
        (1, " 2001:DB8::1 ", "2001:db8::1"),
    ],
)
def test_client_address_counts_trusted_proxies_from_the_right(
    settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_address(request(forwarded=forwarded)) == expected


@pytest.mark.django_db
def test_a_refusal_echoing_our_key_leaves_it_nowhere_in_the_job_or_the_audit(
    operator, fake_woodpecker, clock
):
    from suppression_admin.audit.models import OperationEvent, OperationItem
    from suppression_admin.jobs.models import Job
    from tests.conftest import TEST_WOODPECKER_KEY
    from tests.woodpecker.factories import addresses, run, start_job

    body = {"title": "x", "status": 401, "detail": f"Invalid api key {TEST_WOODPECKER_KEY}"}
    fake_woodpecker.answer("DELETE", status=401, json_body=body)
    job = run(start_job(operator, addresses(600)))
    texts = [
        Job.objects.get(pk=job.pk).stop_reason,
        job.operation.summary,
        *OperationItem.objects.filter(operation_id=job.pk).values_list("detail", flat=True),
        *OperationEvent.objects.filter(operation_id=job.pk).values_list("detail", flat=True),
        *ProviderCall.objects.filter(operation_id=job.pk).values_list("answer_excerpt", "error"),
    ]
    flat = " ".join(t if isinstance(t, str) else " ".join(t) for t in texts)
    assert "Invalid api key [redacted]" in flat
    assert TEST_WOODPECKER_KEY not in flat
