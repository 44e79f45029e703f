"""A real ACME server on loopback: Let's Encrypt's Pebble, for `make local -c https=ip` and the
HTTPS tests.

Debian's `pebble` package runs as certbot's own integration tests run it: no random validation
sleeps (PEBBLE_VA_NOSLEEP), no rejected nonces, authorizations reused, and `pebble-challtestsrv`
as its DNS server, answering every name with 127.0.0.1 (so a domain such as workbench.test
validates against the NGINX under test). Every port is a free one; Pebble validates http-01
challenges on `http_port`, which must be the port of the NGINX under test. Pebble keeps no state
between runs: each start has a new root, which `root` (from its management API) holds.

    with Supervisor(logs) as supervisor:
        pebble = start_pebble(supervisor, workdir, http_port=8080)
        pebble.directory   # https://127.0.0.1:<port>/dir, for certbot's --server
        pebble.listener_ca # trust this for the directory itself (REQUESTS_CA_BUNDLE)
        pebble.root        # Pebble's issuing root: what clients of the issued certificates trust
"""

from __future__ import annotations

import datetime
import json
import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from workbench.local.runner import ProcessSpec, RunnerError, Supervisor, free_port

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"
# Let's Encrypt's short-lived profile (IP certificates): 160 hours. Pebble issues this for every
# order, so renewal thresholds and the doctor's warnings see what an instance sees.
SHORT_LIVED_SECONDS = 160 * 3600


@dataclass(frozen=True, kw_only=True)
class Pebble:
    directory: str
    """The ACME directory URL (certbot's --server)."""
    management: str
    """Pebble's management API (roots, intermediates), same certificate as the directory."""
    http_port: int
    """Where Pebble's validation authority fetches http-01 challenges."""
    listener_ca: Path
    """The self-signed certificate of Pebble's own HTTPS (certbot trusts it: TLS_ACME_CA)."""
    root: Path
    """Pebble's issuing root (PEM): what a client of the certificates it issues must trust."""

    def fetch(self, path: str) -> bytes:
        context = ssl.create_default_context(cafile=str(self.listener_ca))
        with urllib.request.urlopen(self.management + path, context=context, timeout=10) as answer:
            return answer.read()


def listener_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 and localhost (Pebble's own HTTPS)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble listener")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "listener.pem", directory / "listener.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return cert_file, key_file


def start_pebble(supervisor: Supervisor, workdir: Path, *, http_port: int) -> Pebble:
    """Start pebble-challtestsrv and Pebble under `supervisor`; return once the directory and
    the root answer (Supervisor.wait_ready, trusting its listener). Raises RunnerError naming the
    process and its log."""
    for binary in (PEBBLE, CHALLTESTSRV):
        if not Path(binary).exists():
            raise RunnerError(f"{binary}: not installed (make system installs Debian's pebble)")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = listener_certificate(workdir)
    dns_port, chall_port, acme_port, management_port, tls_port = (free_port() for _ in range(5))
    # No AAAA answers: the NGINX under test listens on 127.0.0.1 only. Its own challenge
    # servers stay off: NGINX answers the challenges.
    dns = ["-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", f"127.0.0.1:{dns_port}"]
    off = ["-http01", "", "-https01", "", "-tlsalpn01", ""]
    supervisor.start(
        ProcessSpec(
            name="pebble-challtestsrv",
            argv=[CHALLTESTSRV, *dns, "-management", f"127.0.0.1:{chall_port}", *off],
        )
    )
    config = workdir / "pebble-config.json"
    config.write_text(
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"127.0.0.1:{acme_port}",
                    "managementListenAddress": f"127.0.0.1:{management_port}",
                    "certificate": str(cert),
                    "privateKey": str(key),
                    "httpPort": http_port,
                    "tlsPort": tls_port,
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                    "certificateValidityPeriod": SHORT_LIVED_SECONDS,
                }
            },
            indent=2,
        )
    )
    directory = f"https://127.0.0.1:{acme_port}/dir"
    supervisor.start(
        ProcessSpec(
            name="pebble",
            argv=[PEBBLE, "-config", str(config), "-dnsserver", f"127.0.0.1:{dns_port}"],
            env={
                "PEBBLE_VA_NOSLEEP": "1",
                "PEBBLE_WFE_NONCEREJECT": "0",
                "PEBBLE_AUTHZREUSE": "100",
            },
            ready_url=directory,
            ready_cafile=cert,
            ready_timeout=30.0,
        )
    )
    if not supervisor.is_running("pebble-challtestsrv"):
        raise RunnerError(
            f"pebble-challtestsrv exited; see {supervisor.log('pebble-challtestsrv')}:\n"
            f"{supervisor.tail('pebble-challtestsrv')}"
        )
    pebble = Pebble(
        directory=directory,
        management=f"https://127.0.0.1:{management_port}",
        http_port=http_port,
        listener_ca=cert,
        root=workdir / "pebble-root.pem",
    )
    # Pebble starts its management listener before it binds the directory's (cmd/pebble).
    pebble.root.write_bytes(pebble.fetch("/roots/0"))
    return pebble
