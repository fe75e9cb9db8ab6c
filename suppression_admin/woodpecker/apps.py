from django.apps import AppConfig


class WoodpeckerConfig(AppConfig):
    name = "suppression_admin.woodpecker"
    label = "woodpecker"
    verbose_name = "Woodpecker"
