"""bin/start as a newcomer runs it: refuses a taken port, stops both its processes on SIGTERM."""

import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import PROJECT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive: it only waits to be reaped.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


@pytest.fixture
def start_env(tmp_path):
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("WALEAD_", "WOODPECKER_", "DJANGO_", "SUPPRESSION_"))
    } | {
        "DATABASE_URL": f"sqlite:///{tmp_path}/start.sqlite3",
        "KEY_LOCK_DIR": str(tmp_path / "locks"),
        "SECRET_KEY": "bin-start-test",
    }


def test_a_taken_port_is_refused_before_the_banner(start_env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(  # noqa: S603 - the project's own script
            [str(PROJECT / "bin" / "start")],
            cwd=PROJECT,
            env=start_env | {"HOST_PORT": f"127.0.0.1:{port}"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "is running" not in result.stdout


def test_sigterm_to_bin_start_stops_its_server_and_its_worker(start_env):
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - the project's own script
        [str(PROJECT / "bin" / "start")],
        cwd=PROJECT,
        env=start_env | {"HOST_PORT": f"127.0.0.1:{port}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        worker_pid = None
        deadline = time.monotonic() + 120
        while worker_pid is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if match := re.search(r"Background worker: pid (\d+)", line):
                worker_pid = int(match[1])
        assert worker_pid, "bin/start did not print its banner"
        while time.monotonic() < deadline:  # the server answers
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)

        # A newcomer sees the app's own pages, never Django's debug pages; static files
        # are served (collected, by WhiteNoise).
        base = f"http://127.0.0.1:{port}"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/no-such-page/", timeout=10)  # noqa: S310
        body = missing.value.read().decode()
        assert missing.value.code == 404
        assert 'data-testid="not-found-why"' in body
        assert "URLconf" not in body
        login = urllib.request.urlopen(f"{base}/accounts/login/", timeout=10).read().decode()  # noqa: S310
        stylesheet = re.search(r'href="(/static/[^"]+\.css)"', login)[1]
        assert urllib.request.urlopen(base + stylesheet, timeout=10).status == 200  # noqa: S310

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        time.sleep(0.5)
        assert not alive(worker_pid)
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0  # the server is gone too
    finally:
        if process.poll() is None:
            process.kill()
