from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "suppression_admin.keys"
    label = "keys"
    verbose_name = "Provider keys"
