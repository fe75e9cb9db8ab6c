"""``manage.py audit_db_grants ROLE``: the PostgreSQL rights of the application's role.

The triggers that make the audit append-only (audit migration 0005) can be dropped by the
tables' owner; so the application should not connect as the owner. This prints what to
grant a separate application role: everything on the other tables, and on the audit tables
only reading, inserting, and writing the columns the write-ahead design fills in (never
DELETE, TRUNCATE or changing what was recorded).
"""

import re

from django.core.management.base import BaseCommand, CommandError, CommandParser

AUDIT_TABLES = (
    "audit_operation",
    "audit_operationitem",
    "audit_providercall",
    "audit_operationevent",
    "audit_auditseal",
    "audit_accessrecord",
)
# The columns the application writes after a row is inserted (the triggers police when).
WRITABLE = {
    "audit_operation": (
        "status",
        "started_at",
        "finished_at",
        "summary",
        "item_total",
        "item_done",
        "call_total",
        "outcome_counts",
    ),
    "audit_operationitem": ("outcome", "detail", "call_id"),
    "audit_providercall": (
        "status_code",
        "answer_excerpt",
        "error",
        "started_at",
        "finished_at",
        "duration_ms",
    ),
}
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grants_sql(role: str) -> list[str]:
    audit = ", ".join(AUDIT_TABLES)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON {audit} FROM {role}",
    ]
    for table, columns in WRITABLE.items():
        statements.append(f"GRANT UPDATE ({', '.join(columns)}) ON {table} TO {role}")
    return statements


class Command(BaseCommand):
    help = (
        "Print the SQL that gives a PostgreSQL role what the application needs, and no right "
        "to delete or rewrite the audit. Run it as the tables' owner after each migrate."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the role the application connects as")

    def handle(self, *args, role: str, **options) -> None:
        if not ROLE_NAME.match(role):
            raise CommandError(
                f"{role!r} is not a plain PostgreSQL role name (lower-case letters, digits, _)."
            )
        self.stdout.write("-- Run as the owner of the tables (the role that runs migrate).")
        for statement in grants_sql(role):
            self.stdout.write(f"{statement};")
