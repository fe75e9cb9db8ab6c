"""The audit log: one Operation per unblock request, its items, and every provider call.

Rows are written before the provider is called (see audit.services) and are never deleted
by the application. Keys and request headers are never stored.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Provider(models.TextChoices):
    WALEAD = "walead", "WaLead"
    WOODPECKER = "woodpecker", "Woodpecker"


class Action(models.TextChoices):
    UNBLOCK = "unblock", "Unblock leads"
    REMOVE = "remove", "Remove from blacklist"


class Source(models.TextChoices):
    WEB = "web", "Web selection"
    CLI = "cli", "Command line"
    FILE = "file", "Uploaded file"
    PASTE = "paste", "Pasted list"
    RETRY = "retry", "Retry of an earlier job"


class OperationStatus(models.TextChoices):
    """An operation's status, and its job's: the pages use these words everywhere."""

    PENDING = "pending", "Queued"
    IN_PROGRESS = "in_progress", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partly done"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown (answer never arrived)"
    CANCELLED = "cancelled", "Cancelled"
    STOPPED = "stopped", "Stopped"
    INTERRUPTED = "interrupted", "Interrupted (crashed midway)"


FINISHED_STATUSES = frozenset(
    {
        OperationStatus.SUCCEEDED,
        OperationStatus.PARTIAL,
        OperationStatus.FAILED,
        OperationStatus.UNKNOWN,
        OperationStatus.CANCELLED,
        OperationStatus.STOPPED,
        OperationStatus.INTERRUPTED,
    }
)


class ItemOutcome(models.TextChoices):
    PENDING = "pending", "Not yet sent"
    UNBLOCKED = "unblocked", "Unblocked"
    REMOVED = "removed", "Removed"
    NOT_LISTED = "not_listed", "Was not on the list"
    # A request's answer was lost (or did not account for it), and a look-up then found it
    # off the list: removed by that request, or not on the list before. Nobody can tell.
    GONE = "gone", "Off the list (checked by look-up)"
    INVALID = "invalid", "Invalid"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown"
    NOT_SENT = "not_sent", "Not sent"


DONE_OUTCOMES = frozenset(
    {ItemOutcome.UNBLOCKED, ItemOutcome.REMOVED, ItemOutcome.NOT_LISTED, ItemOutcome.GONE}
)


class Operation(models.Model):
    provider = models.CharField(max_length=20, choices=Provider.choices)
    action = models.CharField(max_length=20, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    # Kept verbatim: the audit must still name the person if the account is renamed.
    actor_username = models.CharField(max_length=150, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField()
    ticket = models.CharField(max_length=200, blank=True)
    # audit.identifiers.ticket_key(ticket): found however the ticket is typed.
    ticket_key = models.CharField(max_length=200, blank=True, default="")
    source = models.CharField(max_length=20, choices=Source.choices)
    source_detail = models.JSONField(default=dict, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=20, choices=OperationStatus.choices, default=OperationStatus.PENDING
    )
    summary = models.TextField(blank=True)
    # Stored counts, kept current as the work proceeds (see audit.services): the pages never
    # count a million items per row. ``outcome_counts`` ({outcome: n}) is written at the end.
    item_total = models.PositiveIntegerField(default=0)
    item_done = models.PositiveIntegerField(default=0)
    call_total = models.PositiveIntegerField(default=0)
    outcome_counts = models.JSONField(default=dict, blank=True)
    # Set from the confirmation form: a second submit of the same form finds this operation
    # instead of sending anything again.
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("perform_unblock", "Can unblock leads and remove emails at the providers"),
            ("review_audit", "Can review and export the audit log"),
        ]
        indexes = [
            models.Index(fields=["provider", "status", "created_at"]),
            # Exact and prefix search by ticket. The pattern operator class lets PostgreSQL
            # serve LIKE 'prefix%' from the index whatever the database's collation
            # (SQLite has no operator classes and ignores it; see selectors.starting_with).
            models.Index(
                fields=["ticket_key"],
                name="audit_operation_ticket",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_provider_display()} {self.get_action_display()}"

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None

    @property
    def status_label(self) -> str:
        return self.get_status_display()


class ProviderCall(models.Model):
    """One HTTP request that reached (or was about to reach) a provider."""

    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="calls")
    sequence = models.PositiveIntegerField()
    purpose = models.CharField(max_length=100)
    # In a bulk operation sent in batches (a removal job's chunks): which batch the request
    # was for. A resumed job tells by it a batch that was sent from one that never was.
    batch = models.PositiveIntegerField(null=True, blank=True)
    method = models.CharField(max_length=10)
    path = models.TextField()
    item_count = models.PositiveIntegerField(default=0)
    request_body = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    answer_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["operation_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "sequence"], name="call_sequence_unique")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status_code or 'no answer'}"

    @property
    def answered(self) -> bool:
        return self.status_code is not None

    @property
    def result_label(self) -> str:
        if self.finished_at is None:
            return self.error or "No answer recorded yet"
        if self.status_code is None:
            return self.error or "No answer"
        return f"{self.status_code}" + (f" — {self.error}" if self.error else "")


class OperationItem(models.Model):
    """One lead or email in an operation, with what finally happened to it."""

    # Items are read and updated by (operation, position), which the unique constraint below
    # indexes, and found by their search key. A bulk job writes and updates hundreds of
    # thousands of them, and every further index would be paid for on each one.
    operation = models.ForeignKey(
        Operation, on_delete=models.PROTECT, related_name="items", db_index=False
    )
    position = models.PositiveIntegerField()
    # What the provider knows the item by: WaLead's blocked-lead id, or the email address.
    identifier = models.CharField(max_length=320)
    # What a person knows it by: the LinkedIn public identifier (blank for emails). Text,
    # not a bounded column: WaLead sets no limit, and a lead must stay unblockable however
    # long its slug (the search key below holds its first 320 characters).
    label = models.TextField(blank=True)
    # audit.identifiers.item_search_key(identifier, label), written with the item.
    search_key = models.CharField(max_length=320, blank=True, default="")
    original_reason = models.TextField(blank=True)
    outcome = models.CharField(
        max_length=20, choices=ItemOutcome.choices, default=ItemOutcome.PENDING
    )
    detail = models.TextField(blank=True)
    call = models.ForeignKey(
        ProviderCall,
        on_delete=models.PROTECT,
        related_name="items",
        null=True,
        blank=True,
        db_index=False,
    )

    class Meta:
        ordering = ["operation_id", "position"]
        # Bulk jobs read and update items by position ranges of one operation; unique, so
        # an item can never be recorded twice.
        constraints = [
            models.UniqueConstraint(fields=["operation", "position"], name="item_position_unique")
        ]
        indexes = [
            # With the operation: a person across the audit, or within one big operation.
            models.Index(
                fields=["search_key", "operation"],
                name="audit_item_search_key",
                opclasses=["varchar_pattern_ops", "int8_ops"],
            ),
            # A WaLead lead (it has a public identifier) is also found by its lead id. Only
            # those few rows are indexed: bulk email removals pay nothing for it.
            models.Index(
                fields=["identifier"], name="audit_item_lead_id", condition=~models.Q(label="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label or self.identifier}: {self.get_outcome_display()}"

    @property
    def is_done(self) -> bool:
        return self.outcome in DONE_OUTCOMES


class EventKind(models.TextChoices):
    REQUESTED = "requested", "Requested"
    STARTED = "started", "Started"
    RESUMED = "resumed", "Resumed"
    CANCEL_REQUESTED = "cancel_requested", "Cancel requested"
    CANCELLED = "cancelled", "Cancelled"
    STOPPED = "stopped", "Stopped"
    FINISHED = "finished", "Finished"
    RETRIED_AS = "retried_as", "Retried as"
    RETRY_OF = "retry_of", "Retry of"


class OperationEvent(models.Model):
    """Something that happened to an operation's job, who did it and when. Append-only."""

    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=30, choices=EventKind.choices)
    # A person (kept verbatim, as on the operation) or blank for a worker process.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    actor_username = models.CharField(max_length=150, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["operation_id", "at", "id"]
        indexes = [models.Index(fields=["operation", "at"])]

    def __str__(self) -> str:
        return f"#{self.operation_id} {self.get_kind_display()}"

    @property
    def who(self) -> str:
        return self.actor_username or "a worker"


class AuditSeal(models.Model):
    """A finished operation's place in the audit's hash chain (see audit.chain).

    ``hash`` is SHA-256 over the previous seal's hash and a canonical form of the operation,
    its items, its calls and its first ``events_sealed`` events. Append-only, like the rest.
    """

    sequence = models.PositiveBigIntegerField(primary_key=True)
    operation = models.OneToOneField(Operation, on_delete=models.PROTECT, related_name="seal")
    events_sealed = models.PositiveIntegerField()
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    sealed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sequence"]

    def __str__(self) -> str:
        return f"seal {self.sequence} of operation #{self.operation_id}"


class AccessKind(models.TextChoices):
    AUDIT_EXPORT = "audit_export", "Audit export"
    AUDIT_EXPORT_COMMAND = "audit_export_command", "Audit export (command line)"
    JOB_RESULT = "job_result", "Job result download"
    UNUSED_ROWS = "unused_rows", "Unused rows download"
    PERSON = "person", "A person's history"
    PROVIDER_CHECK = "provider_check", "Asked a provider about a person"


class AccessRecord(models.Model):
    """Someone saw personal data in bulk (an export, a download, a person's history).

    Written before the data is sent. Append-only, like the rest of the audit.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    # A person's username, or who ran a command ("command line, OS user x").
    actor_username = models.CharField(max_length=150)
    kind = models.CharField(max_length=30, choices=AccessKind.choices)
    # What was seen: the filters of an export, the job or draft downloaded, the identifier.
    detail = models.JSONField(default=dict, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_username}: {self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"
