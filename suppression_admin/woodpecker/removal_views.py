"""Bulk removal pages: upload or paste, preview, confirm (the job has its own pages).

Plain forms with POST/redirect/GET; HTMX only refreshes the look-up and progress figures.
"""

import csv
import io
import uuid
from itertools import islice
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from suppression_admin.audit.models import AccessKind, Provider
from suppression_admin.audit.services import access_record
from suppression_admin.client_address import client_address
from suppression_admin.jobs.models import Job
from suppression_admin.jobs.workers import workers_situation
from suppression_admin.providers.errors import ProviderNotConfigured
from suppression_admin.woodpecker import selection as blacklist_selection
from suppression_admin.woodpecker.ingest import ColumnChoiceNeeded, IngestRefused
from suppression_admin.woodpecker.kept_uploads import upload_keep, upload_path
from suppression_admin.woodpecker.models import (
    DraftSource,
    ReadingStatus,
    RemovalDraft,
    UploadReading,
)
from suppression_admin.woodpecker.reading import (
    reading_answer,
    reading_stalled,
    reading_start,
    reads_in_background,
)
from suppression_admin.woodpecker.services import (
    REASON_REQUIRED,
    RemovalRequestInvalid,
    draft_for_retry,
    draft_from_paste,
    draft_from_upload,
    removal_job_start,
)

can_remove = permission_required("audit.perform_unblock", raise_exception=True)

PENDING_UPLOAD_KEY = "woodpecker_pending_upload"
NOTHING_GIVEN = "Choose a file or paste some addresses."
DISCARDED = "The upload was discarded; nothing was sent to Woodpecker."
ALREADY_CONFIRMED = "This removal was already confirmed: nothing was sent again. Here is its job."
NOTHING_TO_REMOVE = (
    "None of these addresses is on the blacklist now, so nothing was sent. Use “Send anyway” "
    "to ask Woodpecker nonetheless."
)
BOTH_GIVEN = "Choose a file or paste addresses, not both."
PASTE_MAX_CHARS = 5_000_000


class SourceForm(forms.Form):
    file = forms.FileField(required=False, label="Spreadsheet (CSV or Excel .xlsx)")
    pasted = forms.CharField(
        required=False,
        label="Or paste addresses",
        max_length=PASTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "one@example.com\ntwo@example.com"}),
    )

    def clean(self):
        cleaned = super().clean()
        has_file, has_text = bool(cleaned.get("file")), bool((cleaned.get("pasted") or "").strip())
        if not has_file and not has_text:
            raise forms.ValidationError(NOTHING_GIVEN)
        if has_file and has_text:
            raise forms.ValidationError(BOTH_GIVEN)
        return cleaned


class ColumnForm(forms.Form):
    token = forms.UUIDField(widget=forms.HiddenInput)
    # A ColumnCandidate.choice: "column", or "sheet:column" in a workbook (0-based).
    column = forms.RegexField(
        regex=r"^([0-9]{1,4}:)?[0-9]{1,5}$", widget=forms.RadioSelect, label="Email column"
    )

    def sheet_and_column(self) -> tuple[int | None, int]:
        sheet, _, column = self.cleaned_data["column"].rpartition(":")
        return (int(sheet) if sheet else None), int(column)


class ConfirmForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": REASON_REQUIRED},
    )
    ticket = forms.CharField(required=False, max_length=200, label="Ticket or reference")


@require_http_methods(["GET", "POST"])
@can_remove
def removal_new(request: HttpRequest) -> HttpResponse:
    posted = request.method == "POST"
    form = SourceForm(request.POST if posted else None, request.FILES if posted else None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload and reads_in_background(upload):
            reading = reading_start(actor=request.user, upload=upload)
            return redirect("woodpecker:removal_reading", pk=reading.pk)
        try:
            if upload:
                draft = draft_from_upload(actor=request.user, data=upload, filename=upload.name)
            else:
                draft = draft_from_paste(actor=request.user, text=form.cleaned_data["pasted"])
        except ColumnChoiceNeeded as choice:
            return _ask_for_column(request, upload, choice)
        except IngestRefused as refused:
            form.add_error(None, str(refused))
        else:
            return redirect("woodpecker:removal_preview", pk=draft.pk)
    status = 400 if form.errors else 200
    return render(request, "woodpecker/removal_new.html", {"form": form}, status=status)


def _ask_for_column(request: HttpRequest, upload, choice: ColumnChoiceNeeded) -> HttpResponse:
    """Keep the upload for a moment (never in the audit) while the operator picks a column."""
    upload.seek(0)
    token = upload_keep(upload.chunks())
    request.session[PENDING_UPLOAD_KEY] = {"token": token, "name": upload.name}
    form = ColumnForm(initial={"token": uuid.UUID(hex=token)})
    form.fields["column"].widget.choices = _column_choices(choice)
    return render(
        request,
        "woodpecker/removal_column.html",
        {"form": form, "filename": upload.name, "message": str(choice)},
    )


def _column_choices(choice: ColumnChoiceNeeded) -> list[tuple[str, str]]:
    return [
        (candidate.choice, f"{candidate.label} — e.g. {', '.join(candidate.samples[:3])}")
        for candidate in choice.candidates
    ]


@require_POST
@can_remove
def removal_column(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING_UPLOAD_KEY) or {}
    path = upload_path(str(pending.get("token", "")))
    form = ColumnForm(request.POST)
    if request.POST.get("discard"):
        if path is not None and _posted_token(form) == pending["token"]:
            _forget_upload(request, path)
            messages.info(request, DISCARDED)
        else:
            messages.info(request, "That upload was already replaced or discarded.")
        return redirect("woodpecker:removal_new")
    if (
        path is None
        or not form.is_valid()
        or form.cleaned_data["token"].hex != pending.get("token")
    ):
        messages.error(request, "That column choice has expired. Upload the file again.")
        return redirect("woodpecker:removal_new")
    sheet, column = form.sheet_and_column()
    try:
        with path.open("rb") as kept:
            draft = draft_from_upload(
                actor=request.user,
                data=kept,
                filename=pending["name"],
                column=column,
                sheet=sheet,
            )
    except FileNotFoundError:
        messages.error(request, "That upload is gone. Upload the file again.")
        return redirect("woodpecker:removal_new")
    except IngestRefused as refused:
        messages.error(request, str(refused))
        return redirect("woodpecker:removal_new")
    finally:
        _forget_upload(request, path)
    return redirect("woodpecker:removal_preview", pk=draft.pk)


@require_http_methods(["GET", "POST"])
@can_remove
def removal_reading(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """A large workbook being read by a worker: progress, then the preview, a refusal, or
    the column question (whose answer is posted here)."""
    reading = get_object_or_404(UploadReading.objects.defer("content"), pk=pk)
    if reading.created_by_id != request.user.pk:
        raise PermissionDenied("This upload belongs to someone else.")
    if reading.status == ReadingStatus.DONE and reading.draft_id is not None:
        preview = reverse("woodpecker:removal_preview", args=[reading.draft_id])
        if request.htmx:
            return HttpResponseClientRedirect(preview)
        return redirect(preview)
    form = None
    if reading.status == ReadingStatus.CHOOSE:
        form = ColumnForm(
            request.POST if request.method == "POST" else None,
            initial={"token": reading.pk},
        )
        form.fields["column"].widget.choices = [
            (choice, f"{label} — e.g. {', '.join(samples[:3])}")
            for choice, label, samples in reading.candidates
        ]
        offered = {choice for choice, _, _ in reading.candidates}
        if request.method == "POST" and form.is_valid():
            if form.cleaned_data["column"] in offered:
                sheet, column = form.sheet_and_column()
                reading_answer(reading, sheet=sheet, column=column)
                return redirect("woodpecker:removal_reading", pk=reading.pk)
            form.add_error("column", "Choose one of the columns offered.")
    context = {"reading": reading, "form": form}
    if reading.status in (ReadingStatus.QUEUED, ReadingStatus.READING):
        context["situation"] = workers_situation() or reading_stalled(reading)
    template = "woodpecker/removal_reading.html"
    if request.htmx and request.htmx.target == "reading":
        template += "#reading"
    return render(request, template, context, status=400 if form and form.errors else 200)


def _posted_token(form: ColumnForm) -> str | None:
    form.is_valid()  # the token is read even when no column was chosen
    token = form.cleaned_data.get("token")
    return token.hex if token else None


def _forget_upload(request: HttpRequest, path: Path) -> None:
    request.session.pop(PENDING_UPLOAD_KEY, None)
    path.unlink(missing_ok=True)


@require_POST
@can_remove
def removal_from_selection(request: HttpRequest) -> HttpResponse:
    """The addresses selected on the blacklist page (across its pages and searches) go
    through the same preview and confirm; the selection becomes the draft."""
    chosen = request.POST.getlist("email") or blacklist_selection.selected(request.session)
    if not chosen:
        messages.info(request, "Tick at least one address to remove.")
        return redirect("woodpecker:blacklist")
    try:
        draft = draft_from_paste(
            actor=request.user, text="\n".join(chosen), source=DraftSource.SELECTION
        )
    except IngestRefused as refused:
        messages.error(request, str(refused))
        return redirect("woodpecker:blacklist")
    blacklist_selection.clear(request.session)
    return redirect("woodpecker:removal_preview", pk=draft.pk)


@require_http_methods(["GET", "POST"])
@can_remove
def removal_preview(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    draft = _own_draft(request, pk, lean=True)
    if draft.job_id is not None:
        if request.method == "POST":
            messages.info(request, ALREADY_CONFIRMED)
        return redirect("jobs:detail", pk=draft.job_id)
    form = ConfirmForm(
        request.POST if request.method == "POST" else None, initial=_retry_initial(draft)
    )
    nothing_to_do = draft.blacklisted_count == 0 and request.POST.get("send") != "anyway"
    if request.method == "POST" and nothing_to_do:
        form.add_error(None, NOTHING_TO_REMOVE)
    if request.method == "POST" and form.is_valid():
        try:
            job = removal_job_start(
                actor=request.user,
                draft=draft,
                reason=form.cleaned_data["reason"],
                ticket=form.cleaned_data["ticket"],
                client_ip=client_address(request),
                user_agent=request.headers.get("User-Agent", ""),
            )
        except (RemovalRequestInvalid, ProviderNotConfigured) as error:
            form.add_error(None, str(error))
        else:
            return redirect("jobs:detail", pk=job.pk)
    context = {"draft": draft, "form": form}
    if draft.valid_count and draft.blacklisted_count is None and not draft.lookup_error:
        # The count is a worker's task: say so if no worker will run it.
        context["situation"] = workers_situation(Provider.WOODPECKER)
    if draft.blacklisted_count is not None:
        context["not_listed"] = max(draft.valid_count - draft.blacklisted_count, 0)
    if request.htmx and request.htmx.target == "lookup":
        context["polling"] = True  # the send button follows the count (out of band) …
        if draft.blacklisted_count is not None:
            context |= _addresses_context(request, draft)  # … and so do the address marks
        return render(request, "woodpecker/removal_preview.html#lookup", context)
    context["unused_preview"] = _unused_preview(draft)
    context |= _addresses_context(request, draft)
    return render(
        request, "woodpecker/removal_preview.html", context, status=400 if form.errors else 200
    )


ADDRESSES_PAGE = 100


@require_GET
@can_remove
def removal_addresses(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The preview's addresses, a page at a time, optionally only those containing a text."""
    draft = _own_draft(request, pk, lean=True)
    return render(
        request, "woodpecker/removal_preview.html#addresses", _addresses_context(request, draft)
    )


def _addresses_context(request: HttpRequest, draft: RemovalDraft) -> dict:
    emails, blacklisted = RemovalDraft.objects.values_list("emails", "blacklisted_emails").get(
        pk=draft.pk
    )
    on_blacklist = set(blacklisted.split("\n")) if blacklisted else set()
    counted = draft.blacklisted_count is not None
    wanted = request.GET.get("q", "").strip().lower()[:320]
    listed = [e for e in emails.split("\n") if wanted in e] if emails else []
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    start = (page - 1) * ADDRESSES_PAGE
    return {
        "draft": draft,
        "q": wanted,
        # (address, on the blacklist: True / False, or None before the count)
        "addresses": [
            (email, email in on_blacklist if counted else None)
            for email in listed[start : start + ADDRESSES_PAGE]
        ],
        "addresses_first": start + 1,
        "addresses_last": min(start + ADDRESSES_PAGE, len(listed)),
        "addresses_total": len(listed),
        "addresses_page": page,
        "addresses_prev": page - 1 if page > 1 else None,
        "addresses_next": page + 1 if start + ADDRESSES_PAGE < len(listed) else None,
    }


@require_POST
@can_remove
def removal_discard(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Throw away an upload not yet confirmed (its addresses with it); nothing was sent."""
    draft = _own_draft(request, pk, lean=True)
    if draft.job_id is not None:
        return redirect("jobs:detail", pk=draft.job_id)
    if draft.source == DraftSource.SELECTION:
        # Ticked on the blacklist page: back there, with the ticks, to change them.
        ticked = RemovalDraft.objects.get(pk=draft.pk).email_list()
        RemovalDraft.objects.filter(pk=draft.pk, job__isnull=True).delete()
        blacklist_selection.add(request.session, ticked)
        messages.info(
            request, f"Nothing was sent; your {len(ticked):,} ticked addresses are still selected."
        )
        return redirect("woodpecker:blacklist")
    RemovalDraft.objects.filter(pk=draft.pk, job__isnull=True).delete()
    messages.info(request, DISCARDED)
    return redirect("woodpecker:removal_new")


@require_GET
@can_remove
def removal_unused_csv(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    draft = _own_draft(request, pk)
    if draft.purged_at is not None:
        return HttpResponse(
            f"This report was deleted on {draft.purged_at:%Y-%m-%d} with the draft's address "
            f"lists, {settings.PERSONAL_DATA_RETENTION_DAYS} days after the upload (the "
            "retention period). The audit keeps what the job sent and its outcomes.",
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    access_record(
        AccessKind.UNUSED_ROWS,
        {"draft": str(draft.pk), "file_name": draft.filename},
        actor=request.user,
        client_ip=client_address(request),
    )
    response = HttpResponse(draft.unused_csv, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="unused-rows.csv"'
    return response


@require_POST
@can_remove
def removal_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """The addresses a finished job did not send (or could not settle), as a new draft that
    goes through the same preview and confirmation."""
    job = get_object_or_404(
        Job.objects.select_related("operation"), pk=pk, provider=Provider.WOODPECKER
    )
    try:
        draft = draft_for_retry(actor=request.user, job=job)
    except RemovalRequestInvalid as error:
        messages.info(request, str(error))
        retry = job.retries.order_by("pk").first()
        return redirect("jobs:detail", pk=retry.pk if retry else job.pk)
    return redirect("woodpecker:removal_preview", pk=draft.pk)


def _own_draft(request: HttpRequest, pk: uuid.UUID, *, lean: bool = False) -> RemovalDraft:
    drafts = RemovalDraft.objects.defer(*RemovalDraft.BULK_FIELDS) if lean else RemovalDraft.objects
    draft = get_object_or_404(drafts, pk=pk)
    if draft.created_by_id != request.user.pk:
        raise PermissionDenied("This upload belongs to someone else.")
    return draft


def _retry_initial(draft: RemovalDraft) -> dict[str, str]:
    """A retry starts from the first job's reason and ticket (the operator may edit them)."""
    if draft.retry_of_id is None:
        return {}
    earlier = draft.retry_of.operation
    return {"reason": earlier.reason, "ticket": earlier.ticket}


def _unused_preview(draft: RemovalDraft) -> list[list[str]]:
    """The first 20 unused rows (the rest are in the downloadable CSV)."""
    unused_csv = RemovalDraft.objects.values_list("unused_csv", flat=True).get(pk=draft.pk)
    return list(islice(csv.reader(io.StringIO(unused_csv)), 1, 21))
