from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "suppression_admin.jobs"
    label = "jobs"
    verbose_name = "Background jobs"
