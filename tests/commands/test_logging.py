"""Log lines: each printed once, no traceback for a 404, no address in a retry warning,
and JSON lines with the request's id on request."""

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging
from django.conf import settings
from django.test import Client
# (No collectstatic here: the plain storage, as DEBUG uses.)
plain = "django.contrib.staticfiles.storage.StaticFilesStorage"
settings.STORAGES["staticfiles"]["BACKEND"] = plain
Client().get("/no/such/page/")
logging.getLogger("urllib3.connectionpool").warning(
    "Retrying (%s) after connection broken by %r: %s",
    "Retry(total=2)", "ReadTimeoutError", "/v2/blacklist/emails?email_filter=ann@example.com",
)
"""


def run(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "shell", "-c", SCRIPT],
        cwd=PROJECT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "suppression_admin.settings",
            "SECRET_KEY": "x" * 50,
            "ALLOWED_HOSTS": "testserver",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr


def test_a_404_is_one_line_printed_once_and_a_retry_names_no_address():
    for debug in ("1", "0"):
        logged = run(DEBUG=debug)
        assert logged.count("Not Found: /no/such/page/") == 1, logged
        assert "Traceback" not in logged
        assert "ann@example.com" not in logged
        assert "Retrying (Retry(total=2))" in logged


def test_json_lines_carry_the_request_id():
    # (Python's warnings, such as WhiteNoise's "No directory at" before collectstatic, are
    # printed by the warnings module itself, not by logging.)
    logged = run(LOG_FORMAT="json").splitlines()
    lines = [json.loads(line) for line in logged if line.startswith("{")]
    [not_found] = [line for line in lines if line["message"].startswith("Not Found")]
    assert len(not_found["request_id"]) == 16
    assert not_found["level"] == "WARNING"
    assert "exception" not in not_found
