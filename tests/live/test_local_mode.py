"""`make local`'s entry point, run as the Makefile runs it, in a temporary state directory:
the emulator deploy, the tables, the workbench through NGINX, each user's login, and a clean
stop on Ctrl-C. It runs for a team, as `make local LOCAL_ARGS="-c users=alice,bob -c
admins=alice"` does."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
import requests

from workbench.local import runner
from workbench.local.emulator import REGION
from workbench.local.runner import Password, free_port

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 240
TEAM = ("-c", "users=alice,bob", "-c", "admins=alice")


def local(*args: str) -> subprocess.Popen:
    """The Makefile's `make local` command line."""
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", "local", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def descendants(pid: int) -> set[int]:
    return {child for child, _ in runner.descendants(pid)}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def port_is_free(port: int) -> bool:
    """Nothing listens there (TIME_WAIT left by this test's own requests does not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """One `make local` for the module: (process, port, output so far, state dir)."""
    state = tmp_path_factory.mktemp("local-state")
    port = free_port()
    process = local("--port", str(port), "--state-dir", str(state), *TEAM)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.lstrip().startswith("stop "):  # the summary's last line
                break
        output = "\n".join(lines)
        assert "ready:" in output, f"make local did not reach ready:\n{output}"
        yield process, port, output, state
    finally:
        # Also when setup failed: never leave a workbench running behind the test.
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def test_reaches_ready_and_serves_the_landing_page_and_jupyterhub(running):
    _, port, output, _ = running
    assert f"ready: the workbench answers at http://127.0.0.1:{port}/" in output
    assert status(f"http://127.0.0.1:{port}/") == 200
    assert status(f"http://127.0.0.1:{port}/jupyter/hub/login") == 200


def test_prints_each_users_login_once_and_each_signs_in_with_it(running):
    _, port, output, _ = running
    # Passwords as Password: a failing assertion prints reprs, never the password.
    found = re.findall(r"^\s+login\s+(\S+) / (\S+)  \(", output, re.M)
    logins = {user: Password(password) for user, password in found}
    assert sorted(logins) == ["alice", "bob"], "a login per user"
    assert re.search(r"^\s+login\s+alice / \S+  \(admin, printed once\)$", output, re.M)
    assert re.search(r"^\s+login\s+bob / \S+  \(printed once\)$", output, re.M)
    for user, password in logins.items():
        assert output.count(password) == 1, f"{user}'s password is printed once"
    # Each password is the one the stack generated in the emulator's Secrets Manager, under the
    # name the instance and the PasswordCommand output use.
    endpoint = re.search(r"AWS_ENDPOINT_URL=(http://localhost:\d+)", output).group(1)
    secrets = boto3.client(
        "secretsmanager", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/jupyter"
    for user, password in logins.items():
        stored = secrets.get_secret_value(SecretId=f"Workbench/users/{user}/password")
        assert Password(stored["SecretString"]) == password, f"{user}'s password is their secret"
        assert sign_in(base, user, password) == 302, f"{user} signs in"
    assert sign_in(base, "bob", logins["alice"]) == 403, "with their own password only"


def sign_in(base: str, user: str, password: str) -> int:
    session = requests.Session()
    session.get(f"{base}/hub/login", timeout=10)
    return session.post(
        f"{base}/hub/login",
        data={"username": user, "password": password, "_xsrf": session.cookies["_xsrf"]},
        allow_redirects=False,
        timeout=10,
    ).status_code


def test_prints_the_stack_outputs_and_the_emulators_rules(running):
    _, _, output, _ = running
    for name in ("LandingUrl", "InstanceId", "SecurityGroupId", "JupyterhubTunnel"):
        assert re.search(rf"^\s+{name}\s+\S", output, re.M), name
    rules = re.findall(r"^\s+tcp\s+(\d+)\s+(\S+)\s*$", output, re.M)
    assert sorted(rules) == [("22", "0.0.0.0/0"), ("80", "0.0.0.0/0")]
    assert "RStudio Server" in output and "not available locally" in output


def test_a_second_run_says_one_is_running(running):
    _, port, _, state = running
    second = subprocess.run(
        [sys.executable, "-m", "workbench", "local", "--port", str(free_port()),
         "--state-dir", str(state)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode == 1
    assert second.stderr.startswith(
        f"error: make local is already running (pid {running[0].pid}) at http://127.0.0.1:{port}/"
    )
    assert second.stderr.count("\n") == 1


def test_ctrl_c_stops_everything_and_frees_the_ports(running):
    process, port, output, _ = running
    started = descendants(process.pid)
    assert len(started) >= 4, "nginx, jupyterhub, the api and the penguins app at least"
    emulator_port = int(re.search(r"AWS_ENDPOINT_URL=http://localhost:(\d+)", output).group(1))
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    rest = process.stdout.read()
    assert "stopped" in rest
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in started):
        time.sleep(0.2)
    assert [pid for pid in started if alive(pid)] == [], "a process outlived make local"
    assert port_is_free(port)
    assert port_is_free(emulator_port)


def test_a_busy_port_is_one_clear_line_and_starts_nothing(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = local("--port", str(port), "--state-dir", str(tmp_path))
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert out == (
        f"error: port {port} is busy: another program listens on 127.0.0.1:{port}; "
        "choose another with `make local LOCAL_PORT=<port>`\n"
    )
    assert not (tmp_path / "logs").exists(), "nothing was started"


def test_local_down_with_nothing_running(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "local", "--down", "--state-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0
    assert result.stdout == "make local is not running\n"


def test_https_ip_serves_a_pebble_certificate_and_prints_the_ca_file(pebble, tmp_path, capsys):
    """`make local -c https=ip`'s serving half, cheaply: the summary's CA file works with curl,
    port 80's stand-in redirects. (The emulator deploy is the module's; the sign-in over HTTPS
    through the same rendered NGINX is tests/live/test_tls.py's.)"""
    import shutil

    from workbench.local import mode

    config = mode.load_local_config(["https=ip"])
    https_port = free_port()
    with mode.serve(
        config, state=tmp_path, port=pebble.http_port, https_port=https_port, pebble=pebble, only=[]
    ) as served:
        url = f"https://127.0.0.1:{https_port}/"
        mode.summary(config, url=url, state=tmp_path, emu=_NoEmulator(), outputs={}, served=served)
        out = capsys.readouterr().out
        ca_file = re.search(r"^\s+CA file\s+(\S+)", out, re.M).group(1)
        assert f"curl --cacert {ca_file} {url}" in out
        curl = shutil.which("curl")
        landing = subprocess.run(
            [curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca_file, url],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert landing.stdout == "200", landing.stderr
        redirect = subprocess.run(
            [curl, "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
             f"http://127.0.0.1:{pebble.http_port}/jupyter/?x=1"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert redirect.stdout == f"308 https://127.0.0.1:{https_port}/jupyter/?x=1"


class _NoEmulator:
    endpoint = "http://localhost:0"
