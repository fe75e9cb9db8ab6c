"""The audit log in the Django admin: look, never touch.

The log is evidence. Nobody (superusers included) may add, change or delete a record here;
the application writes it through audit.services and never deletes it.
"""

from django.contrib import admin
from django.db.models import F, Model, QuerySet
from django.http import HttpRequest

from suppression_admin.audit.models import Operation, OperationItem, ProviderCall


class ReadOnlyAdminMixin:
    """Refuse every write; viewing follows Django's usual view permission."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class InlineOfOperation(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Whoever may view an operation may see all of it, items and calls included.
        return request.user.has_perm("audit.view_operation")


class OperationItemInline(InlineOfOperation):
    model = OperationItem
    fields = ("position", "identifier", "label", "original_reason", "outcome", "detail", "call_no")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[OperationItem]:
        # The call's number, not the call: showing the call itself costs a query per item.
        return super().get_queryset(request).annotate(call_sequence=F("call__sequence"))

    @admin.display(description="call")
    def call_no(self, item: OperationItem) -> str:
        sequence = getattr(item, "call_sequence", None)
        return f"#{sequence}" if sequence else "—"


class ProviderCallInline(InlineOfOperation):
    model = ProviderCall
    fields = (
        "sequence",
        "purpose",
        "method",
        "path",
        "item_count",
        "started_at",
        "duration_ms",
        "status_code",
        "error",
        "answer_excerpt",
        "request_body",
    )
    readonly_fields = fields


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
    search_fields = ("actor_username", "ticket", "reason", "items__identifier", "items__label")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fields = (
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
    )
    readonly_fields = fields
    inlines = (OperationItemInline, ProviderCallInline)
