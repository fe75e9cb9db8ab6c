"""The audit tables become append-only in the database itself, below the application.

Refused, on SQLite and PostgreSQL alike:
- DELETE on every audit table (and TRUNCATE, on PostgreSQL);
- any change to a finished operation, or to its items and calls;
- changing what was requested (an operation's who/why/what, an item's identity, a call's
  request), an item's outcome once it left "pending", a call's answer once it is set;
- any change to an event.
While an operation runs, its status and times, its items' outcomes (once, from pending) and
its calls' answers (once) are written: what the write-ahead design needs, and nothing more.

A trigger can be dropped by the tables' owner: on PostgreSQL the application's role should
not own them, and gets only the rights `manage.py audit_db_grants` prints (README).
"""

from django.db import migrations

TABLES = ("audit_operation", "audit_operationitem", "audit_providercall", "audit_operationevent")

OPERATION_FIXED = (
    "id",
    "provider",
    "action",
    "actor_id",
    "actor_username",
    "created_at",
    "reason",
    "ticket",
    "source",
    "source_detail",
    "client_ip",
    "user_agent",
    "idempotency_key",
)
ITEM_FIXED = ("id", "operation_id", "position", "identifier", "label", "original_reason")
CALL_FIXED = (
    "id",
    "operation_id",
    "sequence",
    "purpose",
    "batch",
    "method",
    "path",
    "item_count",
    "request_body",
)


def _changed(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in columns)


def _row(prefix: str, columns: tuple[str, ...]) -> str:
    return ", ".join(f"{prefix}.{column}" for column in columns)


OPERATION_FINISHED = "(SELECT finished_at FROM audit_operation WHERE id = OLD.operation_id)"

SQLITE = [
    *(
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN "
        f"SELECT RAISE(ABORT, 'The audit log is append-only: rows of {table} are never "
        f"deleted.'); END"
        for table in TABLES
    ),
    "CREATE TRIGGER audit_operation_update BEFORE UPDATE ON audit_operation "
    f"WHEN OLD.finished_at IS NOT NULL OR {_changed(OPERATION_FIXED)} BEGIN "
    "SELECT RAISE(ABORT, 'The audit log is append-only: a finished operation, or what was "
    "requested, cannot change.'); END",
    "CREATE TRIGGER audit_operationitem_update BEFORE UPDATE ON audit_operationitem "
    f"WHEN {OPERATION_FINISHED} IS NOT NULL OR OLD.outcome <> 'pending' "
    f"OR {_changed(ITEM_FIXED)} BEGIN "
    "SELECT RAISE(ABORT, 'The audit log is append-only: an item''s outcome is set once, "
    "while its operation runs.'); END",
    "CREATE TRIGGER audit_providercall_update BEFORE UPDATE ON audit_providercall "
    f"WHEN {OPERATION_FINISHED} IS NOT NULL OR OLD.finished_at IS NOT NULL "
    f"OR OLD.status_code IS NOT NULL OR {_changed(CALL_FIXED)} BEGIN "
    "SELECT RAISE(ABORT, 'The audit log is append-only: a call''s answer is set once, "
    "while its operation runs.'); END",
    "CREATE TRIGGER audit_operationevent_update BEFORE UPDATE ON audit_operationevent BEGIN "
    "SELECT RAISE(ABORT, 'The audit log is append-only: events never change.'); END",
]

SQLITE_DROP = [
    *(f"DROP TRIGGER IF EXISTS {table}_no_delete" for table in TABLES),
    *(
        f"DROP TRIGGER IF EXISTS {table}_update"
        for table in ("audit_operation", "audit_operationitem", "audit_providercall")
    ),
    "DROP TRIGGER IF EXISTS audit_operationevent_update",
]


def _pg_guard(name: str, condition: str, message: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {condition} THEN
    RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$"""


_PG_CHANGED = {
    "operation": f"ROW({_row('NEW', OPERATION_FIXED)}) IS DISTINCT FROM "
    f"ROW({_row('OLD', OPERATION_FIXED)})",
    "item": f"ROW({_row('NEW', ITEM_FIXED)}) IS DISTINCT FROM ROW({_row('OLD', ITEM_FIXED)})",
    "call": f"ROW({_row('NEW', CALL_FIXED)}) IS DISTINCT FROM ROW({_row('OLD', CALL_FIXED)})",
}

POSTGRES = [
    """
CREATE OR REPLACE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'The audit log is append-only: % on % is refused.', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$""",
    _pg_guard(
        "audit_operation_update",
        f"OLD.finished_at IS NOT NULL OR {_PG_CHANGED['operation']}",
        "The audit log is append-only: a finished operation, or what was requested, cannot change.",
    ),
    _pg_guard(
        "audit_operationitem_update",
        f"{OPERATION_FINISHED} IS NOT NULL OR OLD.outcome <> 'pending' OR {_PG_CHANGED['item']}",
        "The audit log is append-only: an item''s outcome is set once, while its operation runs.",
    ),
    _pg_guard(
        "audit_providercall_update",
        f"{OPERATION_FINISHED} IS NOT NULL OR OLD.finished_at IS NOT NULL "
        f"OR OLD.status_code IS NOT NULL OR {_PG_CHANGED['call']}",
        "The audit log is append-only: a call''s answer is set once, while its operation runs.",
    ),
    *(
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse()"
        for table in TABLES
    ),
    *(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse()"
        for table in TABLES
    ),
    *(
        f"CREATE TRIGGER {table}_update BEFORE UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_update()"
        for table in ("audit_operation", "audit_operationitem", "audit_providercall")
    ),
    "CREATE TRIGGER audit_operationevent_update BEFORE UPDATE ON audit_operationevent "
    "FOR EACH ROW EXECUTE FUNCTION audit_refuse()",
]

POSTGRES_DROP = [
    *(
        f"DROP TRIGGER IF EXISTS {table}_{kind} ON {table}"
        for table in TABLES
        for kind in ("no_delete", "no_truncate", "update")
    ),
    "DROP FUNCTION IF EXISTS audit_operation_update()",
    "DROP FUNCTION IF EXISTS audit_operationitem_update()",
    "DROP FUNCTION IF EXISTS audit_providercall_update()",
    "DROP FUNCTION IF EXISTS audit_refuse()",
]


def install(schema_editor) -> None:
    statements = POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE
    for statement in statements:
        schema_editor.execute(statement, params=None)  # no parameters: "%" is plpgsql's


def uninstall(schema_editor) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    for statement in POSTGRES_DROP if postgres else SQLITE_DROP:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_gone_outcome"),
        # Fix-ups of older rows run first: after this, nothing rewrites the past.
        ("jobs", "0002_legacy_operations"),
        ("woodpecker", "0004_jobs_move_to_jobs_app"),
    ]

    operations = [
        migrations.RunPython(
            lambda apps, schema_editor: install(schema_editor),
            lambda apps, schema_editor: uninstall(schema_editor),
        )
    ]
