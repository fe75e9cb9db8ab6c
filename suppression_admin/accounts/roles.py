"""The two roles, as groups with the audit app's permissions."""

OPERATORS = "Operators"
AUDITORS = "Auditors"

ROLES = {
    OPERATORS: ["perform_unblock"],  # may browse providers and unblock/remove
    AUDITORS: ["review_audit"],  # may review and export the audit log
}


def ensure_roles(group_model, permission_model) -> None:
    """Create the groups and give them their permissions; safe to run again.

    Takes the models as arguments so the data migration can pass its historical ones.
    """
    for name, codenames in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.add(
            *permission_model.objects.filter(
                content_type__app_label="audit", codename__in=codenames
            )
        )
