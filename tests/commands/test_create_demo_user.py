"""The sandbox demo login: created once; a restart keeps its password and its sessions."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def run() -> str:
    out = io.StringIO()
    call_command("create_demo_user", stdout=out)
    return out.getvalue().strip()


def test_the_demo_login_is_made_in_both_roles(settings):
    settings.SUPPRESSION_SANDBOX = True
    assert run() == "demo / demo-password"
    user = User.objects.get(username="demo")
    assert user.check_password("demo-password")
    assert set(user.groups.values_list("name", flat=True)) == {"Operators", "Auditors"}


def test_running_it_again_keeps_the_password_and_so_the_sessions(settings, client):
    settings.SUPPRESSION_SANDBOX = True
    run()
    user = User.objects.get(username="demo")
    user.set_password("changed-by-the-tester")
    user.save()
    client.force_login(user)
    assert client.get("/").status_code == 200

    assert run() == "demo / (the password you set)"
    user.refresh_from_db()
    assert user.check_password("changed-by-the-tester")
    assert client.get("/").status_code == 200  # still logged in


def test_it_refuses_outside_the_sandbox(settings):
    settings.SUPPRESSION_SANDBOX = False
    with pytest.raises(CommandError, match="sandbox"):
        run()
