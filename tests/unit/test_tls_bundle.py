"""The HTTPS parts of the bundle, parsed back: nginx.conf's two servers and its pre-certificate
variant (crossplane, then the real nginx -t), tls.env as bash reads it, the renewal units
(systemd-analyze) and the renewal schedule, computed with certbot's own threshold."""

from __future__ import annotations

import datetime
import ipaddress
import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.unit.test_instance_files import parse_unit
from tests.unit.test_render_nginx import NGINX, find, headers, nginx_t, one, parse
from workbench.config import WorkbenchConfig
from workbench.render import RENEW_CALENDAR, RENEW_DELAY, TLS_RENEW_UNIT, Target, render_bundle
from workbench.services import (
    ACME_CHALLENGE_PATH,
    HTTPS_PORT,
    TLS_STATUS_PATH,
    certificate_names,
    public_services,
)

IP = WorkbenchConfig(https="ip")
DOMAIN = WorkbenchConfig(https="workbench.example.org", acme_email="ops@example.org")
# Weak choices Mozilla's intermediate profile leaves out: no forward secrecy, CBC, old hashes.
WEAK = re.compile(r"(^|:)(AES|CAMELLIA|DES|3DES|RC4|NULL|MD5|EXPORT|PSK|SRP|DSS|aNULL|eNULL)")


class Servers:
    def __init__(self, conf: Path):
        self.main = parse(conf)
        self.http = one(self.main, "http")["block"]
        self.servers = [d["block"] for d in find(self.http, "server")]

    def by_listen(self, port: str) -> list[dict]:
        (server,) = [s for s in self.servers if one(s, "listen")["args"][0].endswith(port)]
        return server

    @staticmethod
    def locations(server) -> dict[tuple[str, ...], dict]:
        return {tuple(d["args"]): d for d in find(server, "location")}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    base = tmp_path_factory.mktemp("tls")
    return {name: render_bundle(c, base / name) for name, c in (("ip", IP), ("domain", DOMAIN))}


def test_off_by_default_renders_no_tls_at_all(tmp_path):
    bundle = render_bundle(WorkbenchConfig(), tmp_path)
    servers = Servers(bundle / "nginx.conf").servers
    assert len(servers) == 1 and one(servers[0], "listen")["args"] == ["80", "default_server"]
    assert not find(servers[0], "ssl_certificate")
    assert not (bundle / "tls.sh").exists() and not (bundle / "nginx-acme.conf").exists()


@pytest.mark.parametrize("name", ["ip", "domain"])
def test_port_80_answers_challenges_and_redirects_everything_else(bundles, name):
    for conf in ("nginx.conf", "nginx-acme.conf"):
        plain = Servers(bundles[name] / conf).by_listen("80")
        locations = Servers.locations(plain)
        assert set(locations) == {("^~", ACME_CHALLENGE_PATH), ("/",)}, conf
        challenge = locations[("^~", ACME_CHALLENGE_PATH)]["block"]
        assert one(challenge, "root")["args"] == ["/var/lib/workbench/tls/webroot"]
        host = "workbench.example.org" if name == "domain" else "$host"
        assert one(locations[("/",)]["block"], "return")["args"] == [
            "308",
            f"https://{host}$request_uri",
        ], "path and query kept; the default port 443 left out"


def test_before_a_certificate_only_port_80_is_served(bundles):
    for bundle in bundles.values():
        acme = Servers(bundle / "nginx-acme.conf")
        assert len(acme.servers) == 1
        assert "ssl_certificate" not in (bundle / "nginx-acme.conf").read_text()


@pytest.mark.parametrize("name", ["ip", "domain"])
def test_every_location_is_served_on_443_with_the_certificate_and_modern_tls(bundles, name):
    config = IP if name == "ip" else DOMAIN
    tls = Servers(bundles[name] / "nginx.conf").by_listen(str(HTTPS_PORT))
    assert one(tls, "listen")["args"] == [str(HTTPS_PORT), "ssl", "default_server"]
    live = "/home/.workbench/letsencrypt/live/workbench"
    assert one(tls, "ssl_certificate")["args"] == [f"{live}/fullchain.pem"]
    assert one(tls, "ssl_certificate_key")["args"] == [f"{live}/privkey.pem"]
    assert one(tls, "ssl_protocols")["args"] == ["TLSv1.2", "TLSv1.3"]
    (ciphers,) = one(tls, "ssl_ciphers")["args"]
    assert all(
        c.startswith("ECDHE-") and ("GCM" in c or "CHACHA20" in c) for c in ciphers.split(":")
    )
    assert not WEAK.search(ciphers), ciphers
    assert one(tls, "ssl_stapling")["args"] == ["off"], "no OCSP assumed"
    assert one(tls, "ssl_session_tickets")["args"] == ["off"]
    locations = Servers.locations(tls)
    for s in public_services(config):
        location = locations[(s.location,)]
        # $scheme is https in this server: JupyterHub and RStudio build redirects from it.
        assert headers(location)["X-Forwarded-Proto"] == "$scheme", s.name
    assert headers(locations[("/jupyter/",)])["X-Scheme"] == "$scheme", "through CHP"
    status = locations[("=", TLS_STATUS_PATH)]["block"]
    assert one(status, "alias")["args"] == ["/var/lib/workbench/tls/status.json"]
    hsts = [d["args"] for d in find(tls, "add_header")]
    if name == "domain":
        assert hsts == [["Strict-Transport-Security", "max-age=31536000", "always"]]
    else:
        assert hsts == [], "HSTS is for names, not for an address"


def test_loopback_redirects_name_the_https_port(tmp_path):
    target = Target(
        listen="127.0.0.1:18080",
        https_listen="127.0.0.1:18443",
        root=str(tmp_path / "b"),
        nginx_runtime=str(tmp_path / "run"),
    )
    bundle = render_bundle(IP, tmp_path / "b", target=target)
    plain = Servers(bundle / "nginx.conf").by_listen("18080")
    assert one(Servers.locations(plain)[("/",)]["block"], "return")["args"] == [
        "308",
        "https://$host:18443$request_uri",
    ]


def self_signed(directory: Path, name: str = "127.0.0.1") -> None:
    """A certificate where certbot would put one, so that nginx -t can load it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(name))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    live = directory / "live" / "workbench"
    live.mkdir(parents=True)
    (live / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (live / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.mark.parametrize("config", [IP, DOMAIN], ids=["ip", "domain"])
def test_real_nginx_accepts_both_configs(config, tmp_path):
    target = Target(
        listen="127.0.0.1:18080",
        https_listen="127.0.0.1:18443",
        root=str(tmp_path / "bundle"),
        nginx_runtime=str(tmp_path),
        tls_dir=str(tmp_path / "le"),
        tls_state=str(tmp_path / "tls"),
    )
    bundle = render_bundle(config, tmp_path / "bundle", target=target)
    acme = nginx_t(bundle / "nginx-acme.conf", tmp_path)
    assert acme.returncode == 0, acme.stderr
    missing = nginx_t(bundle / "nginx.conf", tmp_path)
    assert missing.returncode != 0 and "fullchain.pem" in missing.stderr, "needs the certificate"
    self_signed(tmp_path / "le")
    full = nginx_t(bundle / "nginx.conf", tmp_path)
    assert full.returncode == 0, full.stderr
    assert Path(NGINX).exists()


def sourced(bundle: Path, *names: str, **env: str) -> list[str]:
    script = f'. "{bundle}/tls.env"; printf "%s\\n" ' + " ".join(f'"${n}"' for n in names)
    done = subprocess.run(
        ["bash", "-c", script], env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.splitlines()


def test_tls_env_holds_the_certbot_parameters_and_the_environment_wins(bundles):
    ip = sourced(bundles["ip"], "TLS_KIND", "TLS_NAME", "TLS_SERVER", "TLS_EMAIL", "TLS_CONFIG_DIR",
                 WORKBENCH_PUBLIC_IP="203.0.113.10")  # fmt: skip
    assert ip == [
        "ip",
        *certificate_names(IP, address="203.0.113.10"),
        "https://acme-v02.api.letsencrypt.org/directory",
        "",
        "/home/.workbench/letsencrypt",
    ]
    domain = sourced(bundles["domain"], "TLS_KIND", "TLS_NAME", "TLS_EMAIL", "TLS_CERTBOT")
    assert domain == ["dns", "workbench.example.org", "ops@example.org", "/opt/certbot/bin/certbot"]
    overridden = sourced(
        bundles["ip"],
        "TLS_SERVER",
        "TLS_CONFIG_DIR",
        TLS_SERVER="https://127.0.0.1:14000/dir",
        WORKBENCH_SYSROOT="/scratch",
    )
    assert overridden == ["https://127.0.0.1:14000/dir", "/scratch/home/.workbench/letsencrypt"]


def test_the_renewal_units_pass_systemd_analyze(bundles, tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "make system installs systemd-analyze"
    units = [
        bundles["ip"] / "systemd" / f"{TLS_RENEW_UNIT}.{kind}" for kind in ("service", "timer")
    ]
    done = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, units)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    for line in (done.stdout + done.stderr).splitlines():
        # /bin/bash exists; the bundle's path does not on this machine.
        assert (
            re.search(r"Failed to prepare filename|not executable|No such file", line) is None
            or "/opt/workbench/tls.sh" in line
        ), line
    service = parse_unit(units[0].read_text())["Service"]
    assert service["ExecStart"] == ["/bin/bash /opt/workbench/tls.sh renew"]
    assert service["Type"] == ["oneshot"]
    timer = parse_unit(units[1].read_text())["Timer"]
    assert timer == {
        "OnCalendar": [RENEW_CALENDAR],
        "RandomizedDelaySec": [RENEW_DELAY],
        "Persistent": ["true"],
    }


def _seconds(span: str) -> int:
    units = {"h": 3600, "min": 60, "s": 1}
    value, unit = re.fullmatch(r"(\d+)(h|min|s)", span).groups()
    return int(value) * units[unit]


def test_the_timer_renews_a_6_day_certificate_in_time(bundles):
    """The schedule, with numbers: systemd's own reading of OnCalendar, certbot's own renewal
    threshold (certbot.renewal._default_renewal_time, 5.8.0: half the lifetime below 10 days,
    two thirds above; Let's Encrypt's ARI window is centred on the same point, 1% of the
    lifetime either side)."""
    from certbot._internal import renewal

    timer = parse_unit((bundles["ip"] / f"systemd/{TLS_RENEW_UNIT}.timer").read_text())["Timer"]
    calendar = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=5", timer["OnCalendar"][0]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    starts = [
        datetime.datetime.fromisoformat(m)
        for m in re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\S+ \S+)", calendar)
    ]
    assert len(starts) == 5, calendar
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(starts)}
    delay = _seconds(timer["RandomizedDelaySec"][0])
    worst_gap = max(gaps) + delay  # the first run early in its window, the next one late
    assert worst_gap <= 13 * 3600

    for lifetime_h, warn_days in ((160, 2), (90 * 24, 14)):
        not_before = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        not_after = not_before + datetime.timedelta(hours=lifetime_h)
        pem = _certificate_pem(not_before, not_after)
        due = renewal._default_renewal_time(pem)
        ari_late = due + (not_after - not_before) / 100
        # Whenever the certificate was issued, the first attempt after it is due comes within a
        # worst-case gap; a failed attempt is retried a gap later.
        first_attempt = ari_late + datetime.timedelta(seconds=worst_gap)
        left = (not_after - first_attempt).total_seconds() / 86400
        attempts = int((not_after - ari_late).total_seconds() // worst_gap)
        if lifetime_h == 160:
            assert due - not_before == datetime.timedelta(hours=80), "certbot: half of 160 h"
            assert left > 2.5, f"{left:.2f} days left at the first attempt"
            assert attempts >= 6, attempts
        else:
            assert left > 28, f"{left:.2f} days left at the first attempt"
        # The doctor warns only after several attempts have failed.
        failed_before_warning = int(((not_after - ari_late).total_seconds() / 86400 - warn_days)
                                    * 86400 // worst_gap)  # fmt: skip
        assert failed_before_warning >= (2 if lifetime_h == 160 else 20), failed_before_warning


def _certificate_pem(not_before: datetime.datetime, not_after: datetime.datetime) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(not_before).not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM)


def test_without_the_elastic_ip_there_is_no_name_to_ask_for(bundles, tmp_path):
    """https=ip on an instance whose /etc/workbench/env lacks WORKBENCH_PUBLIC_IP: one line,
    before certbot runs (provision.sh's tls step fails with it)."""
    done = subprocess.run(
        ["bash", str(bundles["ip"] / "tls.sh"), "obtain"],
        env={"PATH": "/usr/bin:/bin", "WORKBENCH_SYSROOT": str(tmp_path),
             "TLS_CERTBOT": "/nonexistent/certbot"},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("no name for the certificate: TLS_NAME is empty")
    assert done.stderr.count("\n") == 1
