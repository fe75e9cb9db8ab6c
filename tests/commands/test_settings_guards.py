"""Settings refuse what would be unsafe, before anything runs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def check(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    clean |= {"DJANGO_SETTINGS_MODULE": "suppression_admin.settings", "SECRET_KEY": "x" * 50}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"DEBUG": "1", "WOODPECKER_API_KEY": "a-real-looking-key"},
        {
            "DEBUG": "1",
            "SUPPRESSION_SANDBOX": "1",
            "WALEAD_API_KEY": "k" * 20,
            "WALEAD_BASE_URL": "https://walead.example/api",
        },
    ],
)
def test_debug_with_a_live_provider_key_is_refused(env):
    done = check(**env)
    assert done.returncode != 0
    assert "DEBUG=1 with a live provider key is refused" in done.stderr
    assert "a-real-looking-key" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    "env",
    [
        {"DEBUG": "1", "SUPPRESSION_SANDBOX": "1", "WOODPECKER_API_KEY": "k" * 20},
        {"WOODPECKER_API_KEY": "k" * 20},
    ],
)
def test_debug_in_the_sandbox_or_live_without_debug_is_fine(env):
    assert check(**env).returncode == 0


def test_a_retention_below_one_day_is_refused():
    done = check(PERSONAL_DATA_RETENTION_DAYS="0")
    assert done.returncode != 0
    assert "PERSONAL_DATA_RETENTION_DAYS must be 1 or more" in done.stderr
