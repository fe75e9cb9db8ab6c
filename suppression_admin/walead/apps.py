from django.apps import AppConfig


class WaleadConfig(AppConfig):
    name = "suppression_admin.walead"
    label = "walead"
    verbose_name = "WaLead"
