from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "suppression_admin.accounts"
    label = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from suppression_admin.accounts.sessions import session_started

        user_logged_in.connect(session_started, dispatch_uid="accounts.session_started")
