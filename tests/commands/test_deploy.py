"""Deployable as the README says: the deployment check passes with its production
environment, and gunicorn serves the app and its hashed static files behind a TLS proxy."""

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def production_env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    for name in ("DEBUG", "SUPPRESSION_SANDBOX", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)  # (the browser tests set the last one for this process)
    return env | {
        "DJANGO_SETTINGS_MODULE": "suppression_admin.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "suppression.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://suppression.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "HTTPS": "1",
        "TLS_PROXY": "1",
        "TRUSTED_PROXY_COUNT": "1",
        "WALEAD_API_KEY": "placeholder-key-0123456789",
        "WOODPECKER_API_KEY": "placeholder-key-0123456789",
        "STATIC_ROOT": str(tmp_path / "static"),
        **extra,
    }


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_deployment_check_passes_with_the_readme_environment(tmp_path):
    done = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


def test_the_deployment_check_fails_without_https(tmp_path):
    done = manage(
        production_env(tmp_path, HTTPS="0"), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert done.returncode != 0
    assert "SECURE_SSL_REDIRECT" in done.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, **headers: str):
    headers = {"Host": "suppression.example.com", **headers}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http://127.0.0.1 only
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def gunicorn(tmp_path):
    env = production_env(tmp_path)
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        done = manage(env, *step)
        assert done.returncode == 0, done.stderr
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - the venv's gunicorn, fixed arguments
        [
            str(VENV_BIN / "gunicorn"),
            "suppression_admin.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--limit-request-line",  # as the README's production command
            "8190",
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                get(f"{base}/healthz", **{"X-Forwarded-Proto": "https"})
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_gunicorn_serves_the_app_and_hashed_static_files_behind_the_proxy(gunicorn):
    https = {"X-Forwarded-Proto": "https"}
    status, headers, _ = get(f"{gunicorn}/accounts/login/")
    assert status == 301  # plain HTTP is sent to HTTPS
    assert headers["Location"].startswith("https://suppression.example.com/")
    status, headers, body = get(f"{gunicorn}/accounts/login/", **https)
    assert status == 200
    assert "max-age=31536000" in headers["Strict-Transport-Security"]
    css = body.decode().split('href="/static/css/app.')[1].split('"')[0]
    assert css.endswith(".css")
    assert len(css) > len(".css")  # app.<hash>.css
    status, headers, _ = get(f"{gunicorn}/static/css/app.{css}", **https)
    assert status == 200
    assert "immutable" in headers["Cache-Control"]
    status, _, body = get(f"{gunicorn}/healthz", **https)
    assert status == 503  # no worker runs here
    assert b'"database": "ok"' in body
    # The longest blacklist search the page accepts travels in its address: no 400.
    pasted = "+".join(f"someone{n}%40example.com" for n in range(280))
    assert len(pasted) > 6000
    status, _, _ = get(f"{gunicorn}/woodpecker/?email_filter={pasted}", **https)
    assert status == 302  # to the login page: the request line was taken
