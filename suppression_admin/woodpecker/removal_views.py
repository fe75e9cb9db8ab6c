"""Bulk removal pages: upload or paste, preview, confirm, follow the job, download results.

Plain forms with POST/redirect/GET; HTMX only refreshes the look-up and progress figures.
"""

import csv
import io
import uuid
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from suppression_admin.audit.csv_export import neutralise
from suppression_admin.audit.models import OperationItem
from suppression_admin.providers.errors import ProviderNotConfigured
from suppression_admin.woodpecker.ingest import ColumnChoiceNeeded, IngestRefused
from suppression_admin.woodpecker.models import DraftSource, RemovalDraft, RemovalJob
from suppression_admin.woodpecker.services import (
    REASON_REQUIRED,
    RemovalRequestInvalid,
    draft_from_paste,
    draft_from_upload,
    removal_job_cancel,
    removal_job_start,
)

can_remove = permission_required("audit.perform_unblock", raise_exception=True)

UPLOAD_DIR = settings.BASE_DIR / "var" / "uploads"
PENDING_UPLOAD_KEY = "woodpecker_pending_upload"
NOTHING_GIVEN = "Choose a file or paste some addresses."
BOTH_GIVEN = "Choose a file or paste addresses, not both."
PASTE_MAX_CHARS = 5_000_000
BLACKLISTED_REMINDER = (
    "Prospects already marked BLACKLISTED in Woodpecker keep that status: removing their "
    "address from the blacklist does not change it. Change it in Woodpecker if needed."
)


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
    column = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="Email column")


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
    token = uuid.uuid4()
    UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    with (UPLOAD_DIR / token.hex).open("wb") as kept:
        upload.seek(0)
        for chunk in upload.chunks():
            kept.write(chunk)
    request.session[PENDING_UPLOAD_KEY] = {"token": token.hex, "name": upload.name}
    form = ColumnForm(initial={"token": token})
    form.fields["column"].choices = _column_choices(choice)
    return render(
        request,
        "woodpecker/removal_column.html",
        {"form": form, "filename": upload.name, "message": str(choice)},
    )


def _column_choices(choice: ColumnChoiceNeeded) -> list[tuple[int, str]]:
    return [
        (candidate.index, f"{candidate.label} — e.g. {', '.join(candidate.samples[:3])}")
        for candidate in choice.candidates
    ]


@require_POST
@can_remove
def removal_column(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING_UPLOAD_KEY) or {}
    form = ColumnForm(request.POST)
    form.fields["column"].choices = [(i, str(i)) for i in range(1000)]
    path = UPLOAD_DIR / str(pending.get("token", ""))
    if not form.is_valid() or form.cleaned_data["token"].hex != pending.get("token"):
        messages.error(request, "That column choice has expired. Upload the file again.")
        return redirect("woodpecker:removal_new")
    try:
        with path.open("rb") as kept:
            draft = draft_from_upload(
                actor=request.user,
                data=kept,
                filename=pending["name"],
                column=form.cleaned_data["column"],
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


def _forget_upload(request: HttpRequest, path: Path) -> None:
    request.session.pop(PENDING_UPLOAD_KEY, None)
    path.unlink(missing_ok=True)


@require_POST
@can_remove
def removal_from_selection(request: HttpRequest) -> HttpResponse:
    """The addresses ticked on the blacklist page go through the same preview and confirm."""
    chosen = request.POST.getlist("email")
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
    return redirect("woodpecker:removal_preview", pk=draft.pk)


@require_http_methods(["GET", "POST"])
@can_remove
def removal_preview(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    draft = _own_draft(request, pk, lean=True)
    if hasattr(draft, "job"):
        return redirect("woodpecker:job_detail", pk=draft.job.pk)
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            job = removal_job_start(
                actor=request.user,
                draft=draft,
                reason=form.cleaned_data["reason"],
                ticket=form.cleaned_data["ticket"],
                client_ip=request.META.get("REMOTE_ADDR"),
                user_agent=request.headers.get("User-Agent", ""),
            )
        except (RemovalRequestInvalid, ProviderNotConfigured) as error:
            form.add_error(None, str(error))
        else:
            return redirect("woodpecker:job_detail", pk=job.pk)
    context = {"draft": draft, "form": form}
    if request.htmx and request.htmx.target == "lookup":
        return render(request, "woodpecker/removal_preview.html#lookup", context)
    context["unused_preview"] = _unused_preview(draft)
    return render(
        request, "woodpecker/removal_preview.html", context, status=400 if form.errors else 200
    )


@require_GET
@can_remove
def removal_unused_csv(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    draft = _own_draft(request, pk)
    response = HttpResponse(draft.unused_csv, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="unused-rows.csv"'
    return response


@require_GET
@can_remove
def jobs_mine(request: HttpRequest) -> HttpResponse:
    jobs = _jobs_with_lean_drafts().filter(created_by=request.user)[:200]
    return render(request, "woodpecker/jobs.html", {"jobs": jobs})


@require_GET
@can_remove
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(_jobs_with_lean_drafts().select_related("operation"), pk=pk)
    context = {"job": job, "reminder": BLACKLISTED_REMINDER}
    if job.is_finished:
        context["problems"] = (
            job.operation.items.exclude(outcome__in=["removed", "not_listed"])
            .order_by("position")
            .only("identifier", "outcome", "detail")[:100]
        )
    if request.htmx and request.htmx.target == "progress":
        return render(request, "woodpecker/job.html#progress", context)
    return render(request, "woodpecker/job.html", context)


@require_POST
@can_remove
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(RemovalJob, pk=pk)
    removal_job_cancel(job)
    messages.info(request, "Cancelling: the job stops after the chunk in flight.")
    return redirect("woodpecker:job_detail", pk=job.pk)


@require_GET
@can_remove
def job_result_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    job = get_object_or_404(RemovalJob, pk=pk)
    items = (
        OperationItem.objects.filter(operation_id=job.operation_id)
        .order_by("position")
        .values_list("identifier", "outcome", "detail")
    )
    response = StreamingHttpResponse(_result_lines(items), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="removal-job-{job.pk}.csv"'
    return response


def _result_lines(items) -> Iterator[str]:
    labels = dict(OperationItem._meta.get_field("outcome").choices)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "outcome", "detail"])
    for email, outcome, detail in items.iterator(chunk_size=5000):
        writer.writerow([neutralise(email), labels.get(outcome, outcome), detail])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _jobs_with_lean_drafts():
    bulk = [f"draft__{field}" for field in RemovalDraft.BULK_FIELDS]
    return RemovalJob.objects.select_related("draft").defer(*bulk)


def _own_draft(request: HttpRequest, pk: uuid.UUID, *, lean: bool = False) -> RemovalDraft:
    drafts = RemovalDraft.objects.defer(*RemovalDraft.BULK_FIELDS) if lean else RemovalDraft.objects
    draft = get_object_or_404(drafts, pk=pk)
    if draft.created_by_id != request.user.pk:
        raise PermissionDenied("This upload belongs to someone else.")
    return draft


def _unused_preview(draft: RemovalDraft) -> list[list[str]]:
    """The first 20 unused rows (the rest are in the downloadable CSV)."""
    unused_csv = RemovalDraft.objects.values_list("unused_csv", flat=True).get(pk=draft.pk)
    return list(islice(csv.reader(io.StringIO(unused_csv)), 1, 21))
