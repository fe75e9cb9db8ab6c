"""Background tasks of the removal flow (django.tasks, run by the workers)."""

from django.tasks import task

from suppression_admin.woodpecker.models import RemovalDraft
from suppression_admin.woodpecker.preview import draft_lookup_blacklisted


# Someone waits on the preview page: before the jobs' next slices.
@task(priority=10)
def lookup_draft(draft_id: str) -> None:
    draft = RemovalDraft.objects.filter(pk=draft_id).first()
    if draft is not None:
        draft_lookup_blacklisted(draft)
