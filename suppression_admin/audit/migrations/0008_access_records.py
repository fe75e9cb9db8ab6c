"""The access log: who saw personal data in bulk. Append-only from the start."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

TABLE = "audit_accessrecord"
SQLITE = [
    f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} BEGIN "
    "SELECT RAISE(ABORT, 'The audit log is append-only: access records are never deleted.'); "
    "END",
    f"CREATE TRIGGER {TABLE}_update BEFORE UPDATE ON {TABLE} BEGIN "
    "SELECT RAISE(ABORT, 'The audit log is append-only: access records never change.'); END",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {TABLE}_no_delete",
    f"DROP TRIGGER IF EXISTS {TABLE}_update",
]
POSTGRES = [
    f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION audit_refuse()",
    f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse()",
    f"CREATE TRIGGER {TABLE}_update BEFORE UPDATE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION audit_refuse()",
]
POSTGRES_DROP = [
    f"DROP TRIGGER IF EXISTS {TABLE}_{kind} ON {TABLE}"
    for kind in ("no_delete", "no_truncate", "update")
]


def install(schema_editor) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    for statement in POSTGRES if postgres else SQLITE:
        schema_editor.execute(statement, params=None)


def uninstall(schema_editor) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    for statement in POSTGRES_DROP if postgres else SQLITE_DROP:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0007_search_keys_and_counts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AccessRecord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("actor_username", models.CharField(max_length=150)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("audit_export", "Audit export"),
                            ("audit_export_command", "Audit export (command line)"),
                            ("job_result", "Job result download"),
                            ("unused_rows", "Unused rows download"),
                            ("person", "A person's history"),
                            ("provider_check", "Asked a provider about a person"),
                        ],
                        max_length=30,
                    ),
                ),
                ("detail", models.JSONField(blank=True, default=dict)),
                ("client_ip", models.GenericIPAddressField(blank=True, null=True)),
                (
                    "actor",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-at", "-id"],
            },
        ),
        migrations.RunPython(
            lambda apps, schema_editor: install(schema_editor),
            lambda apps, schema_editor: uninstall(schema_editor),
        ),
    ]
