"""The preview's count: how many of a draft's addresses are on the blacklist now.

Runs as a background task (woodpecker.tasks) with progress, each request taking its turn on
the key like every other Woodpecker request.
"""

from django.conf import settings
from django.db.models import F

from suppression_admin.connections import woodpecker_client
from suppression_admin.providers.errors import ProviderError, ProviderMalformedAnswer
from suppression_admin.providers.woodpecker import MAX_PER_PAGE, BlacklistPage, WoodpeckerClient
from suppression_admin.woodpecker.models import RemovalDraft


def draft_lookup_blacklisted(draft: RemovalDraft) -> None:
    """Count how many of the draft's addresses are on the blacklist now, with progress.

    Looks the addresses up with ``email_filter`` in URL-length-safe batches (about 100
    addresses each) — or, when the whole blacklist takes fewer requests to read than that,
    reads it page by page and compares: a 100,000-address upload against a 20,000-address
    blacklist is then 40 requests instead of 1,000. Each request takes its turn on the key
    like every other Woodpecker request. Which addresses were found is kept with the count,
    so the preview can mark them.
    """
    emails = draft.email_list()
    RemovalDraft.objects.filter(pk=draft.pk).update(
        lookup_checked=0, blacklisted_count=None, lookup_error=""
    )
    client = woodpecker_client(wait_seconds=settings.JOB_KEY_WAIT_SECONDS)
    try:
        batches = list(client.lookup_batches(emails))
        first_page = client.list_page(page=0) if len(batches) > 1 else None
        if first_page is not None and _pages(first_page.total) < len(batches):
            found = _count_by_reading_the_blacklist(draft, client, set(emails), first_page)
        else:
            found = _count_by_email_filter(draft, client, batches)
    except ProviderError as error:
        RemovalDraft.objects.filter(pk=draft.pk).update(lookup_error=str(error))
        return
    finally:
        client.close()
    listed = [email for email in emails if email in found]
    RemovalDraft.objects.filter(pk=draft.pk).update(
        blacklisted_count=len(listed),
        blacklisted_emails="\n".join(listed),
        lookup_checked=draft.valid_count,
    )


# 2,500,000 addresses: a blacklist read further than this is the provider paging for ever.
MAX_BLACKLIST_PAGES = 5_000


def _pages(total: int) -> int:
    return -(-total // MAX_PER_PAGE)


def _count_by_email_filter(
    draft: RemovalDraft, client: WoodpeckerClient, batches: list[list[str]]
) -> set[str]:
    """The draft's addresses found on the blacklist (lowercase, as the draft holds them)."""
    found: set[str] = set()
    for batch in batches:
        found.update(email.lower() for email in client.lookup(batch))
        RemovalDraft.objects.filter(pk=draft.pk).update(
            lookup_checked=F("lookup_checked") + len(batch)
        )
    return found


def _count_by_reading_the_blacklist(
    draft: RemovalDraft, client: WoodpeckerClient, wanted: set[str], first_page: BlacklistPage
) -> set[str]:
    # The blacklist may change while it is read; a set counts an address once even if a
    # shifted page shows it twice.
    # The end is a page shorter than a full one, not the total the first page gave: a total
    # that is missing or stale must not cut the reading short (a count too low would hide
    # the preview's button).
    found: set[str] = set()
    pages = _pages(first_page.total)
    page, listed = 0, first_page
    while True:
        found.update(email.lower() for email in listed.emails if email.lower() in wanted)
        page += 1
        RemovalDraft.objects.filter(pk=draft.pk).update(
            lookup_checked=min(draft.valid_count * page // max(pages, 1), draft.valid_count)
        )
        if len(listed.emails) < MAX_PER_PAGE:
            return found
        if page >= MAX_BLACKLIST_PAGES:
            raise ProviderMalformedAnswer(
                f"Woodpecker kept sending full pages of its blacklist after {page:,}.",
                provider="Woodpecker",
            )
        listed = client.list_page(page=page)
