"""The audit log in the Django admin: look, never touch.

The log is evidence. Nobody (superusers included) may add, change or delete a record here;
the application writes it through audit.services and never deletes it.

An operation's items and calls are not shown inline: a bulk removal holds up to a million,
and the admin would render every one. Its page links to the dashboard's paged detail.
"""

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html

from suppression_admin.audit.models import Operation


class ReadOnlyAdminMixin:
    """Refuse every write; viewing follows Django's usual view permission."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "actor_username",
        "provider",
        "action",
        "status",
        "ticket",
        "source",
    )
    list_filter = ("provider", "action", "status", "source", "created_at")
    # A whole ticket (ignoring case) or part of a username; a person through the dashboard's
    # indexed search (the admin's own search would scan every item).
    search_fields = ("=ticket", "actor_username")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = (
        "items_and_calls",
        "provider",
        "action",
        "actor_username",
        "created_at",
        "started_at",
        "finished_at",
        "status",
        "summary",
        "reason",
        "ticket",
        "source",
        "source_detail",
        "client_ip",
        "user_agent",
        "item_total",
        "item_done",
        "call_total",
        "outcome_counts",
    )
    readonly_fields = fields

    @admin.display(description="Items and calls")
    def items_and_calls(self, operation: Operation) -> str:
        url = reverse("audit:operation_detail", args=[operation.pk])
        return format_html(
            '<a href="{}">{} item{} and {} call{}, on the audit page (paged)</a>',
            url,
            operation.item_total,
            pluralize(operation.item_total),
            operation.call_total,
            pluralize(operation.call_total),
        )
