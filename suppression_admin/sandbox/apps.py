from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "suppression_admin.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox providers"
