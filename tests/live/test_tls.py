"""HTTPS against a real ACME server, with the instance's own parts.

Pebble (Let's Encrypt's test server) issues; `tls.sh` from the rendered bundle (the one certbot
invocation the instance runs, with the dev venv's certbot 5.8.0) obtains through the rendered
NGINX, which starts with the pre-certificate config as on a first boot and answers the http-01
challenge on Pebble's validation port; its deploy hook installs the full config. One NGINX for
the module, in front of the live layer's own services (the `workbench` fixture's JupyterHub,
API, Shiny app and RStudio stand-in). Tests run in file order: the renewals come after the
checks of the first certificate, the domain last (it switches NGINX to another certificate).
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography import x509
from playwright.sync_api import sync_playwright

from tests.live.helpers import websocket_handshake
from tests.live.test_browser import CHROMIUM, CHROMIUM_ARGS
from workbench import doctor
from workbench.config import WorkbenchConfig
from workbench.local.acme import Pebble
from workbench.local.runner import (
    CertificateError,
    LocalWorkbench,
    Supervisor,
    free_port,
    run_tls,
    start_workbench,
)
from workbench.render import render_bundle
from workbench.services import TLS_STATUS_PATH, public_services


@dataclass
class Tls:
    wb: LocalWorkbench
    pebble: Pebble
    first_certificate_s: float

    @property
    def port(self) -> int:
        return self.wb.target.https_port

    def url(self, path: str) -> str:
        return self.wb.url + path

    def get(self, path: str, **kwargs) -> requests.Response:
        # verify= on each call: a Session's verify loses to REQUESTS_CA_BUNDLE in the environment.
        return requests.get(self.url(path), verify=str(self.pebble.root), timeout=10, **kwargs)

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.pebble.root))

    def status(self) -> dict:
        return json.loads((Path(self.wb.target.tls_state) / "status.json").read_text())


def served(port: int, context: ssl.SSLContext, name: str = "127.0.0.1"):
    """The certificate NGINX presents (verified by `context`), the TLS version and cipher."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der), tls.version(), tls.cipher()[0]


@pytest.fixture(scope="module")
def tls(workbench, pebble, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tls")
    config = WorkbenchConfig(https="ip")
    with Supervisor(workdir / "logs") as supervisor:
        started = time.monotonic()
        wb = start_workbench(
            config,
            workdir,
            supervisor,
            only=[],
            ports=workbench.wb.ports,
            passwords=workbench.wb.logins,
            pebble=pebble,
        )
        yield Tls(wb, pebble, time.monotonic() - started)


def test_pebble_issues_a_certificate_for_127_0_0_1_through_the_rendered_nginx(tls):
    cert, _, _ = served(tls.port, tls.context())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == []
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    issuer = cert.issuer.rfc4514_string()
    assert "Pebble Intermediate CA" in issuer, issuer
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime < datetime.timedelta(days=7), "Pebble issues short-lived ones, as for an IP"
    live = Path(tls.wb.target.tls_dir) / "live/workbench/cert.pem"
    assert x509.load_pem_x509_certificate(live.read_bytes()).serial_number == cert.serial_number
    # The deploy hook replaced the pre-certificate config with the full one.
    assert (
        Path(tls.wb.target.nginx_conf).read_bytes() == (tls.wb.bundle / "nginx.conf").read_bytes()
    )
    assert tls.status()["result"] == "ok"
    print(
        f"\nfirst certificate from Pebble (NGINX start included): {tls.first_certificate_s:.2f} s"
    )


def test_tls_1_2_at_least_and_no_weak_cipher(tls):
    _, version, cipher = served(tls.port, tls.context())
    assert version == "TLSv1.3", (version, cipher)
    tls12 = tls.context()
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    _, version, cipher = served(tls.port, tls12)
    assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and "GCM" in cipher, cipher
    # RSA key exchange and CBC with SHA-1: a client offering only that is refused.
    weak = tls.context()
    weak.maximum_version = ssl.TLSVersion.TLSv1_2
    weak.set_ciphers("AES128-SHA:AES256-SHA")
    with pytest.raises(ssl.SSLError, match=r"HANDSHAKE_FAILURE|handshake failure"):
        served(tls.port, weak)


def test_every_service_answers_over_https(tls):
    assert tls.get("/").status_code == 200
    for s in public_services(tls.wb.config):
        bare = tls.get(s.path, allow_redirects=False)
        assert (bare.status_code, bare.headers.get("Location")) == (301, s.location), s.path
        answer = tls.get(s.location + s.health_path.lstrip("/"), allow_redirects=False)
        assert answer.status_code in (200, 302), (s.path, answer.status_code)
    # RStudio builds its absolute redirects from X-Forwarded-Proto: https, not back to port 80.
    rstudio = tls.get("/rstudio/", allow_redirects=False)
    assert rstudio.headers["Location"].startswith(f"https://127.0.0.1:{tls.port}/rstudio/")
    status, _ = websocket_handshake(tls.url("/penguins/websocket/"), context=tls.context())
    assert status == 101
    assert "Strict-Transport-Security" not in tls.get("/").headers, "no HSTS for an address"


def test_jupyterhub_sign_in_over_https_gets_secure_cookies(tls, workbench):
    session = requests.Session()
    base, verify = tls.url("/jupyter/hub"), str(tls.pebble.root)
    assert session.get(f"{base}/login", verify=verify, timeout=10).status_code == 200
    login = session.post(
        f"{base}/login",
        data={"username": workbench.wb.user, "password": workbench.wb.password,
              "_xsrf": session.cookies["_xsrf"]},
        allow_redirects=False, verify=verify, timeout=10,
    )  # fmt: skip
    assert login.status_code == 302, login.status_code
    cookie = next(c for c in session.cookies if c.name == "jupyterhub-hub-login")
    assert cookie.secure, "JupyterHub saw https (X-Forwarded-Proto) and marks its cookie Secure"


def test_plain_http_redirects_to_https_keeping_path_and_query(tls):
    for path in ("/", "/jupyter/hub/login?next=%2Fjupyter%2Fhub%2Fhome&x=1", "/nothing/here"):
        answer = requests.post(tls.wb.http_url + path, allow_redirects=False, timeout=10)
        assert answer.status_code == 308, path
        assert answer.headers["Location"] == f"https://127.0.0.1:{tls.port}{path}"
    # Port 80 answers challenges only: a file in certbot's webroot is there, nothing else is.
    webroot = Path(tls.wb.target.tls_state) / "webroot/.well-known/acme-challenge"
    webroot.mkdir(parents=True, exist_ok=True)
    (webroot / "token-from-test").write_text("key-authorization")
    challenge = requests.get(
        f"{tls.wb.http_url}/.well-known/acme-challenge/token-from-test", timeout=10
    )
    assert (challenge.status_code, challenge.text) == (200, "key-authorization")


def test_the_doctor_checks_https_end_to_end_and_trusts_only_what_it_is_told(tls):
    target = doctor.target_from_url(
        tls.wb.url, ca_file=str(tls.pebble.root), http_port=pebble_port(tls)
    )
    checks = doctor.diagnose(target, tls.wb.config, timeout=5)
    by_kind = {c.check: c for c in checks}
    assert {"tcp", "redirect", "tls", "renewal", "http"} <= set(by_kind)
    assert [c for c in checks if c.verdict == doctor.FAIL] == [], checks
    certificate = by_kind["tls"]
    assert certificate.evidence["names"] == ["127.0.0.1"]
    assert certificate.evidence["issuer"].startswith("Pebble Intermediate CA")
    assert 6 < certificate.evidence["days_left"] < 7 and certificate.verdict == doctor.OK
    # The system's trust store does not know Pebble: a finding, never an insecure retry.
    untrusted = doctor.check_certificate(doctor.target_from_url(tls.wb.url), timeout=5)
    assert untrusted.verdict == doctor.FAIL
    assert "unable to get local issuer certificate" in untrusted.summary
    assert "staging" in untrusted.next_step


def pebble_port(tls) -> int:
    return int(tls.wb.http_url.rsplit(":", 1)[1])


def test_chromium_trusts_pebbles_root_and_signs_in_to_jupyterhub(tls, workbench, tmp_path):
    """Pebble's root in an NSS database in the browser's HOME, as a user adds a CA: no
    certificate error to ignore."""
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    certutil = shutil.which("certutil")
    assert certutil, "make system installs certutil (libnss3-tools)"
    subprocess.run([certutil, "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    subprocess.run(
        [certutil, "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "pebble",
         "-i", str(tls.pebble.root)],
        check=True,
    )  # fmt: skip
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            env={"HOME": str(home)},
        )
        try:
            page = browser.new_page()
            failed = []
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
            response = page.goto(tls.url("/"), wait_until="networkidle")
            assert response.status == 200
            assert page.locator("ul.services a").count() >= 3
            assert failed == [], "the landing page and its stylesheet load over HTTPS"
            page.goto(tls.url("/jupyter/hub/login"))
            page.fill("#username_input", workbench.wb.user)
            page.fill("#password_input", workbench.wb.password)
            page.click("#login_submit")
            page.wait_for_url(re.compile(r".*/jupyter/(hub/(spawn|home)|user/).*"), timeout=30_000)
            cookies = {c["name"]: c for c in browser.cookies()}
            assert cookies["jupyterhub-hub-login"]["secure"] is True
        finally:
            browser.close()


def test_a_second_run_requests_nothing_new(tls):
    before = served(tls.port, tls.context())[0].serial_number
    output = run_tls(tls.wb, "obtain")
    assert "not yet due for renewal" in output, output
    assert served(tls.port, tls.context())[0].serial_number == before
    archive = Path(tls.wb.target.tls_dir) / "archive/workbench"
    assert sorted(p.name for p in archive.glob("cert*.pem")) == ["cert1.pem"]


def test_a_forced_renewal_reloads_nginx_with_the_new_certificate(tls):
    before = served(tls.port, tls.context())[0].serial_number
    run_tls(tls.wb, "renew", env={"TLS_FORCE": "1"})
    after = served(tls.port, tls.context())[0].serial_number
    assert after != before, "NGINX serves the renewed certificate"
    assert tls.status()["result"] == "ok"
    assert tls.status()["serial"] == format(after, "x")


def test_a_failed_renewal_is_reported_and_the_old_certificate_keeps_serving(tls):
    before = served(tls.port, tls.context())[0].serial_number
    unreachable = f"https://127.0.0.1:{free_port()}/dir"
    with pytest.raises(CertificateError) as failure:
        # What an unreachable ACME server does to the timer's renewal.
        run_tls(tls.wb, "renew", env={"TLS_FORCE": "1", "TLS_SERVER": unreachable})
    assert str(failure.value) == (
        f"certbot renew failed: could not reach the ACME server {unreachable}: "
        "[Errno 111] Connection refused"
    )
    assert served(tls.port, tls.context())[0].serial_number == before
    status = tls.get(TLS_STATUS_PATH).json()
    assert status["result"] == "failed" and "Connection refused" in status["reason"], status
    target = doctor.target_from_url(tls.wb.url, ca_file=str(tls.pebble.root))
    check = doctor.check_renewal(target, timeout=5)
    assert check.verdict == doctor.FAIL and "Connection refused" in check.summary, check


def test_obtain_with_an_unanswerable_challenge_fails_with_the_cas_reason(tls, tmp_path):
    # A webroot NGINX does not serve: Pebble's validation gets a 404 (a fresh name, so no
    # authorization to reuse).
    with pytest.raises(CertificateError, match=r"unanswerable\.workbench\.test.*404"):
        run_tls(
            tls.wb,
            "obtain",
            env={"TLS_KIND": "dns", "TLS_NAME": "unanswerable.workbench.test",
                 "TLS_WEBROOT": str(tmp_path), "TLS_CONFIG_DIR": str(tmp_path / "le")},
        )  # fmt: skip


def test_a_domain_gets_its_certificate_and_hsts(tls, tmp_path):
    """Last: from https=ip to a domain. The same lineage gets the new name (a changed name is
    the one reason besides expiry to request again), the same port 80 answers the challenge,
    and the deploy hook moves NGINX to the domain's full config."""
    domain = "workbench.test"
    config = WorkbenchConfig(https=domain, acme_server=tls.pebble.directory)
    bundle = render_bundle(config, tmp_path / "bundle", target=tls.wb.target)
    run_tls(
        tls.wb,
        "obtain",
        env={"TLS_KIND": "dns", "TLS_NAME": domain, "TLS_NGINX_FULL": str(bundle / "nginx.conf")},
    )
    cert, _, _ = served(tls.port, tls.context(), name=domain)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [domain]
    # workbench.test resolves only in Pebble's DNS: connect to 127.0.0.1, name it by SNI.
    with (
        socket.create_connection(("127.0.0.1", tls.port), timeout=10) as sock,
        tls.context().wrap_socket(sock, server_hostname=domain) as conn,
    ):
        conn.sendall(
            f"GET / HTTP/1.1\r\nHost: {domain}:{tls.port}\r\nConnection: close\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
    assert b"\r\nStrict-Transport-Security: max-age=31536000\r\n" in head, head
    redirect = requests.get(f"{tls.wb.http_url}/x?y=1", allow_redirects=False, timeout=10)
    assert redirect.headers["Location"] == f"https://{domain}:{tls.port}/x?y=1"
