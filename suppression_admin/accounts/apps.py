from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "suppression_admin.accounts"
    label = "accounts"
