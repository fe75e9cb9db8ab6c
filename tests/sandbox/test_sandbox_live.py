"""The real provider clients against the sandbox served over loopback HTTP (live_server)."""

import threading

import pytest

from suppression_admin.providers.errors import ProviderAuthError
from suppression_admin.providers.walead import WaleadClient
from suppression_admin.providers.woodpecker import WoodpeckerClient
from suppression_admin.sandbox import ratelimit
from suppression_admin.sandbox.models import SandboxBlacklistedEmail
from suppression_admin.sandbox.seed import seed_sandbox_data
from tests.sandbox.conftest import SANDBOX_KEY

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def walead(live_server):
    client = WaleadClient(base_url=f"{live_server.url}/sandbox/walead/api", api_key=SANDBOX_KEY)
    yield client
    client.close()


@pytest.fixture
def woodpecker(live_server):
    client = WoodpeckerClient(
        base_url=f"{live_server.url}/sandbox/woodpecker/rest", api_key=SANDBOX_KEY
    )
    yield client
    client.close()


def test_walead_client_lists_every_page_and_unblocks(walead):
    seed_sandbox_data(leads=60, emails=0)
    leads = list(walead.iter_blocked_leads())
    assert len(leads) == 60
    assert len({lead.id for lead in leads}) == 60
    searched = list(walead.iter_blocked_leads(search=leads[0].public_identifier))
    assert leads[0].id in {lead.id for lead in searched}

    answer = walead.unblock([leads[0].id, leads[1].id, "ffffffffffffffffffffffff"])
    assert answer.success is True
    assert answer.unblocked == 2
    remaining = {lead.id for lead in walead.iter_blocked_leads(sort="ASC")}
    assert len(remaining) == 58
    assert leads[0].id not in remaining
    assert walead.block([("maria-gonzalez-4b7a21", "Requested opt-out")]) == 1


def test_woodpecker_client_looks_up_in_url_safe_batches_and_removes(woodpecker):
    seed_sandbox_data(leads=0, emails=400)
    listed = list(SandboxBlacklistedEmail.objects.values_list("email", flat=True))
    # 400 real addresses plus 100 unknown ones need several look-ups under the 4,100 limit.
    wanted = listed + [f"nobody{n}@unknown-company.com" for n in range(100)]
    assert len(list(woodpecker.lookup_batches(wanted))) > 1
    assert woodpecker.lookup(wanted) == set(listed)

    removed = woodpecker.remove([*listed[:3], "nobody@unknown-company.com", "not-an-email"])
    assert removed == listed[:3]
    assert woodpecker.lookup(listed[:5]) == set(listed[3:5])
    page = woodpecker.list_page(page=0, per_page=500)
    assert page.total == 397
    assert woodpecker.add(["New.Person@acme.com"]) == ["New.Person@acme.com"]


def test_woodpecker_sandbox_processes_concurrent_client_calls_one_at_a_time(
    woodpecker, live_server, settings
):
    settings.SANDBOX_WOODPECKER_LATENCY_MS = 50
    errors: list[BaseException] = []

    def call() -> None:
        client = WoodpeckerClient(
            base_url=f"{live_server.url}/sandbox/woodpecker/rest", api_key=SANDBOX_KEY
        )
        try:
            client.list_page(page=0, per_page=10)
        except BaseException as error:  # collected and asserted on below
            errors.append(error)
        finally:
            client.close()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    gate = ratelimit.limiter_for(SANDBOX_KEY)
    assert gate.requests_received == 4
    assert gate.max_in_flight == 1
    assert gate.max_queued >= 1


def test_a_wrong_key_is_an_auth_error(live_server):
    client = WaleadClient(base_url=f"{live_server.url}/sandbox/walead/api", api_key="nope")
    with pytest.raises(ProviderAuthError):
        client.list_blocked_leads()
    client.close()
