"""provision.sh with HTTPS on, run for real in the sandbox (provision_sandbox.py): certbot's venv
from its hashed requirements, NGINX's pre-certificate config first, the real tls.sh calling
certbot (a stub that writes a certificate and runs the deploy hook as certbot does), the full
config installed only then, the renewal timer, the health check over HTTPS; a second run
requests nothing; a failed request fails the deploy with certbot's reason.

What certbot, Pebble and NGINX really do with these commands, tests/live/test_tls.py proves.
"""

from __future__ import annotations

import pytest

from tests.unit.provision_sandbox import Sandbox
from tests.unit.test_provision_run import LOG, is_read_only
from workbench.config import WorkbenchConfig
from workbench.render import TLS_RENEW_UNIT

ADDRESS = "203.0.113.10"
IP = WorkbenchConfig(https="ip")
LIVE = "/home/.workbench/letsencrypt/live/workbench"


@pytest.fixture
def sandbox(tmp_path):
    box = Sandbox(tmp_path, env={"WORKBENCH_PUBLIC_IP": ADDRESS})
    box.render(IP)
    return box


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """One machine provisioned twice (a first boot, then a re-provision): each run costs
    seconds, so the tests below share them."""
    box = Sandbox(tmp_path_factory.mktemp("tls"), env={"WORKBENCH_PUBLIC_IP": ADDRESS})
    box.render(IP)
    first = box.run()
    certificate = (box.root / LIVE.lstrip("/") / "fullchain.pem").read_text()
    files = box.snapshot()
    second = box.run()
    return box, first, second, certificate, files


def certbot_calls(run):
    return [c for c in run.calls if c[0].endswith("/opt/certbot/bin/certbot")]


def test_a_first_run_gets_a_certificate_through_port_80_then_serves_https(two_runs):
    sandbox, run, _, _, _ = two_runs
    assert run.returncode == 0, run.output
    steps = run.steps()
    assert (
        steps.index("certbot") < steps.index("nginx") < steps.index("tls") < steps.index("health")
    )
    pip = run.called("/opt/certbot/bin/pip", "install")
    assert pip and pip[0][-1].endswith("/certbot/requirements.txt"), "the hashed requirements"
    # NGINX started with the pre-certificate config: port 80 and the challenges only.
    assert "no certificate yet: port 80 answers ACME challenges" in run.log
    (certonly,) = certbot_calls(run)
    args = certonly[1:]
    assert args[0] == "certonly"
    for option in (
        ["--webroot"],
        ["--ip-address", ADDRESS],
        ["--preferred-profile", "shortlived"],
        ["--cert-name", "workbench"],
        ["--keep-until-expiring"],
        ["--non-interactive"],
        ["--register-unsafely-without-email"],
        ["--server", "https://acme-v02.api.letsencrypt.org/directory"],
    ):
        found = any(args[i : i + len(option)] == option for i in range(len(args)))
        assert found, option
    config_dir = args[args.index("--config-dir") + 1]
    assert config_dir == str(sandbox.root) + "/home/.workbench/letsencrypt", "on the /home volume"
    # The deploy hook installed the full config and reloaded NGINX, each after nginx -t.
    nginx = sandbox.root / "etc/nginx/nginx.conf"
    assert nginx.read_bytes() == (sandbox.bundle / "nginx.conf").read_bytes()
    reload = [c for c in run.calls if c[0] == "nginx" and "reload" in c]
    assert reload, "NGINX reloaded with the certificate"
    assert (sandbox.state / "enabled" / f"{TLS_RENEW_UNIT}.timer").exists()
    assert (sandbox.root / f"etc/systemd/system/{TLS_RENEW_UNIT}.service").exists()
    checks = [c for c in run.calls if c[0] == "curl" and "-w" in c]
    https = [c for c in checks if c[-1].startswith(f"https://{ADDRESS}/")]
    assert {c[-1] for c in https} >= {f"https://{ADDRESS}/", f"https://{ADDRESS}/jupyter/hub/login"}
    assert all("--connect-to" in c for c in https), "verified against the name, sent to NGINX"
    assert run.statuses() == [("SUCCESS", "workbench-ready")]


def test_a_second_run_requests_nothing_and_changes_nothing(two_runs):
    sandbox, _, again, before, files = two_runs
    assert again.returncode == 0, again.output
    assert "Certificate not yet due for renewal" in again.log
    assert (sandbox.root / LIVE.lstrip("/") / "fullchain.pem").read_text() == before
    changing = [c for c in again.calls if not is_read_only(c) and c[0] != "mktemp"]
    assert [c for c in changing if c[0] == "nginx" and "reload" in c] == []
    assert sandbox.snapshot() == files


def test_no_certificate_fails_the_deploy_with_certbots_reason(sandbox):
    detail = f"{ADDRESS}: Fetching http://{ADDRESS}/.well-known/acme-challenge/x: Timeout"
    run = sandbox.run(STUB_FAIL_CERTBOT=detail)
    assert run.returncode != 0
    assert run.steps()[-1] == "tls"
    (failure,) = run.signals()
    assert failure["Status"] == "FAILURE"
    assert failure["Reason"] == (
        f"step tls failed (exit 1): certbot obtain failed: {detail}; see {LOG}"
    )
    # NGINX keeps the pre-certificate config: port 80 still answers the next attempt.
    nginx = sandbox.root / "etc/nginx/nginx.conf"
    assert nginx.read_bytes() == (sandbox.bundle / "nginx-acme.conf").read_bytes()
