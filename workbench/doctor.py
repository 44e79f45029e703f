"""`workbench doctor`: walk the path a request takes, in the order the chapter teaches, and say
where the traffic stops: the name (DNS), the firewall (TCP), the proxy (NGINX) or the service.

Each check gives a verdict, the evidence (status, timing, headers) and the next step.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import http.client
import json
import os
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from workbench.config import WorkbenchConfig
from workbench.outputs import tunnel_output_name
from workbench.services import (
    HTTP_PORT,
    HTTPS_PORT,
    SSH_PORT,
    TLS_STATUS_PATH,
    Service,
    expiry_warning_days,
    public_services,
    services,
    ssh_tunnel,
)

OK, FAIL, SKIP, WARN = "ok", "FAIL", "skip", "warn"
HEALTHY = {200, 204, 301, 302, 303, 307, 308}
# On the error page of a service that a target leaves out on purpose (local mode: RStudio).
UNAVAILABLE_MARKER = b"data-workbench-unavailable"


class DoctorError(Exception):
    """Bad input (unknown stack, malformed URL): one line, exit status 2."""


@dataclass(frozen=True, kw_only=True)
class Target:
    host: str
    port: int = HTTP_PORT
    """The web port: NGINX's HTTP port, or its HTTPS port when `scheme` is https."""
    scheme: str = "http"
    http_port: int = HTTP_PORT
    """With HTTPS: the plain HTTP port, which should only redirect (and answer ACME challenges)."""
    ca_file: str | None = None
    """With HTTPS: trust this CA file instead of the system's store (a local Pebble's root)."""
    ssh: bool = False
    """Whether port 22 should answer (from the stack's configuration)."""
    tunnels: dict[str, str] = field(default_factory=dict)
    """SSH tunnel command per service name (from the stack outputs when known)."""
    security_group: str | None = None

    @property
    def https(self) -> bool:
        return self.scheme == "https"

    @property
    def base(self) -> str:
        default = HTTPS_PORT if self.https else HTTP_PORT
        return f"{self.scheme}://{self.host}" + ("" if self.port == default else f":{self.port}")

    @functools.cached_property
    def tls_context(self) -> ssl.SSLContext:
        """Verification as a browser does it: the system's trust store (or `ca_file`), the
        name checked. Never an insecure mode: a certificate the doctor cannot verify is a
        finding. Built once (loading the trust store takes tens of milliseconds, which would
        count in every request's timing)."""
        return ssl.create_default_context(cafile=self.ca_file)


@dataclass
class Check:
    check: str
    target: str
    verdict: str
    summary: str
    evidence: dict = field(default_factory=dict)
    next_step: str = ""


# -- finding the target --------------------------------------------------------------------------


def target_from_url(url: str, *, ca_file: str | None = None, http_port: int = HTTP_PORT) -> Target:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    allowed = (
        "http://HOST[:PORT] or https://HOST[:PORT] (for example http://203.0.113.10, "
        "https://workbench.example.org or http://localhost:8080)"
    )
    try:
        port = parts.port or (HTTPS_PORT if parts.scheme == "https" else HTTP_PORT)
    except ValueError:
        raise DoctorError(f"--url: got {url!r}; expected {allowed}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise DoctorError(f"--url: got {url!r}; expected {allowed}")
    return Target(
        host=parts.hostname, port=port, scheme=parts.scheme, http_port=http_port, ca_file=ca_file
    )


def target_from_stack(
    stack: str, config: WorkbenchConfig, *, region: str | None = None, client=None
) -> Target:
    """Read the stack's outputs from CloudFormation (credentials from the usual places)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        cfn = client or boto3.client("cloudformation", region_name=region)
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except NoCredentialsError:
        raise DoctorError(
            "--stack: no AWS credentials found; configure them (aws configure) or use --url"
        ) from None
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise DoctorError(f"--stack: got {stack!r}; CloudFormation says: {message}") from None
    except BotoCoreError as error:
        raise DoctorError(f"--stack: got {stack!r}; {error}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "LandingUrl" not in outputs:
        raise DoctorError(f"--stack: got {stack!r}; it has no LandingUrl output (not a workbench)")
    base = target_from_url(outputs["LandingUrl"])
    return Target(
        host=base.host,
        port=base.port,
        scheme=base.scheme,
        ssh=config.ssh_open,
        tunnels={
            s.name: outputs[tunnel_output_name(s)]
            for s in services(config)
            if tunnel_output_name(s) in outputs
        },
        security_group=outputs.get("SecurityGroupId"),
    )


# -- the checks ----------------------------------------------------------------------------------


def check_dns(target: Target) -> Check:
    started = time.monotonic()
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        return Check(
            "dns",
            target.host,
            FAIL,
            "the name does not resolve",
            {"error": str(error)},
            "check the name for typos, or use the instance's IP (the PublicIp output)",
        )
    addresses = sorted({info[4][0] for info in infos})
    return Check(
        "dns",
        target.host,
        OK,
        f"resolves to {', '.join(addresses)}",
        {"addresses": addresses, "ms": _ms(started)},
    )


def check_tcp(target: Target, port: int, timeout: float, *, purpose: str) -> Check:
    where = f"{target.host}:{port}"
    started = time.monotonic()
    firewall = (
        f"check the inbound rules of security group {target.security_group} for TCP {port}"
        if target.security_group
        else f"check the firewall (on AWS: the security group's inbound rules) for TCP {port}"
    )
    try:
        with socket.create_connection((target.host, port), timeout=timeout):
            pass
    except ConnectionRefusedError:
        step = (
            "is nginx running? `sudo systemctl status nginx`"
            if port in (target.port, target.http_port)
            else "is sshd running? `sudo systemctl status ssh`"
        )
        return Check(
            "tcp", where, FAIL, f"refused: nothing listens on {port} ({purpose})",
            {"ms": _ms(started)}, step,
        )  # fmt: skip
    except TimeoutError:
        return Check(
            "tcp", where, FAIL, f"timed out after {timeout:g} s: a firewall drops it",
            {"ms": _ms(started)}, firewall,
        )  # fmt: skip
    except OSError as error:
        return Check(
            "tcp", where, FAIL, f"unreachable: {error.strerror or error}",
            {"ms": _ms(started)}, f"is the instance running? then {firewall}",
        )  # fmt: skip
    return Check("tcp", where, OK, f"connected ({purpose})", {"ms": _ms(started)})


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    ms: float


def http_get(
    target: Target,
    path: str,
    timeout: float,
    headers: dict | None = None,
    *,
    plain: bool = False,
) -> Response:
    """GET `path` on the web port (over TLS with HTTPS on), or on the plain HTTP port."""
    started = time.monotonic()
    if target.https and not plain:
        conn = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=target.tls_context
        )
    else:
        port = target.http_port if target.https else target.port
        conn = http.client.HTTPConnection(target.host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "workbench-doctor", **(headers or {})})
        raw = conn.getresponse()
        body = raw.read(64 * 1024)
        return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, body, _ms(started))
    finally:
        conn.close()


def check_landing(target: Target, timeout: float) -> Check:
    return _http_check(target, "/", timeout, service=None)


def check_service(target: Target, service: Service, timeout: float) -> list[Check]:
    """The bare path redirects to the location; the service's health path answers."""
    checks = []
    bare = _http_check(target, service.path, timeout, service=service, expect_redirect=True)
    checks.append(bare)
    checks.append(
        _http_check(target, service.location + service.health_path.lstrip("/"), timeout, service)
    )
    return checks


def _http_check(
    target: Target,
    path: str,
    timeout: float,
    service: Service | None,
    *,
    expect_redirect: bool = False,
) -> Check:
    name = service.title if service else "the landing page"
    unit = service.unit if service else "nginx"
    try:
        response = http_get(target, path, timeout)
    except TimeoutError:
        return Check(
            "http", path, FAIL, f"no answer within {timeout:g} s", {},
            f"NGINX accepted the connection but {name} did not answer in time: "
            f"`sudo systemctl status {unit}`",
        )  # fmt: skip
    except OSError as error:
        return Check("http", path, FAIL, f"connection failed: {error}", {}, "see the tcp check")
    evidence = {
        "status": response.status,
        "ms": response.ms,
        **{h: response.headers[h] for h in ("location", "server") if h in response.headers},
    }
    if expect_redirect:
        location = response.headers.get("location", "")
        if response.status in (301, 308) and location.endswith(service.location):
            return Check("http", path, OK, f"{response.status} -> {location}", evidence)
        if response.status == 404:
            return _no_location(path, evidence)
        return Check(
            "http", path, FAIL, f"{response.status}, expected a redirect to {service.location}",
            evidence, f"add `location = {service.path} {{ return 301 {service.location}; }}`",
        )  # fmt: skip
    if response.status in HEALTHY:
        return Check("http", path, OK, f"{response.status} {_reason(response.status)}", evidence)
    if UNAVAILABLE_MARKER in response.body and service is not None:
        return Check(
            "http", path, SKIP, f"{service.title} is not available on this target (by design)",
            evidence,
        )  # fmt: skip
    if response.status in (502, 503, 504) and service is not None:
        return Check(
            "http", path, FAIL,
            f"{response.status}: NGINX is up but {service.title} is not answering",
            evidence,
            f"`sudo systemctl status {service.unit}` (it listens on 127.0.0.1:{service.port})",
        )  # fmt: skip
    if response.status == 404:
        return _no_location(path, evidence)
    return Check(
        "http", path, FAIL, f"{response.status} {_reason(response.status)}", evidence,
        "look at the NGINX error log: `sudo tail /var/log/nginx/error.log`",
    )  # fmt: skip


def _no_location(path: str, evidence: dict) -> Check:
    return Check(
        "http", path, FAIL, "404: NGINX has no location for this path", evidence,
        "is the rendered nginx.conf in place? `sudo nginx -T | grep location`, "
        "then re-run `sudo /opt/workbench/provision.sh`",
    )  # fmt: skip


def check_websocket(target: Target, service: Service, timeout: float) -> Check:
    """An HTTP/1.1 Upgrade through the service's location: 101 means NGINX passed it on."""
    check = None
    for probe in service.websocket_probes:
        check = _websocket(target, service, service.location + probe, timeout)
        if check.verdict == OK:
            break
    return check


def _websocket(target: Target, service: Service, path: str, timeout: float) -> Check:
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
        f"Origin: {target.base}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "User-Agent: workbench-doctor\r\n\r\n"
    )
    started = time.monotonic()
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout) as raw:
            sock = (
                target.tls_context.wrap_socket(raw, server_hostname=target.host)
                if target.https
                else raw
            )
            sock.sendall(request.encode())
            head = _read_head(sock)
    except (TimeoutError, OSError) as error:
        return Check(
            "websocket", path, FAIL, f"no upgrade answer: {error or 'timed out'}",
            {"ms": _ms(started)}, f"`sudo systemctl status {service.unit}`",
        )  # fmt: skip
    status_line = head.split("\r\n", 1)[0]
    parts = status_line.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    evidence = {"status": status, "ms": _ms(started), "response": status_line}
    if status == 101:
        return Check("websocket", path, OK, "101 Switching Protocols", evidence)
    if status in (502, 503, 504):
        return Check(
            "websocket", path, FAIL, f"{status}: {service.title} is not answering", evidence,
            f"`sudo systemctl status {service.unit}`",
        )  # fmt: skip
    return Check(
        "websocket", path, FAIL,
        f"{status or 'no status'} instead of 101: the upgrade did not get through",
        evidence,
        f"in nginx.conf's `location {service.location}`: proxy_http_version 1.1; "
        "proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;"
        " (without them kernels never connect and Shiny apps grey out)",
    )  # fmt: skip


# -- HTTPS ---------------------------------------------------------------------------------------


def check_certificate(target: Target, timeout: float) -> Check:
    """The certificate NGINX presents, verified as a browser would: names, issuer, days left."""
    where = f"{target.host}:{target.port}"
    started = time.monotonic()
    try:
        with (
            socket.create_connection((target.host, target.port), timeout=timeout) as raw,
            target.tls_context.wrap_socket(raw, server_hostname=target.host) as tls,
        ):
            cert = tls.getpeercert()
            version = tls.version()
    except ssl.SSLCertVerificationError as error:
        reason = error.verify_message or str(error)
        hint = {
            "certificate has expired": "renewals stopped: `sudo systemctl status "
            "workbench-tls-renew.service`, then `sudo /opt/workbench/tls.sh renew`",
            "unable to get local issuer certificate": "not from a CA this machine trusts: "
            "acme_server=staging issues untrusted certificates (set production and deploy), "
            "or pass --ca-file for a local Pebble",
            "self-signed certificate in certificate chain": "a test CA: --ca-file for a local "
            "Pebble, acme_server=production on AWS",
        }.get(
            reason,
            "the name must be on the certificate: use the address or domain of the "
            "https setting (the LandingUrl output)",
        )
        return Check("tls", where, FAIL, f"certificate not valid here: {reason}",
                     {"ms": _ms(started)}, hint)  # fmt: skip
    except ssl.SSLError as error:
        return Check("tls", where, FAIL, f"TLS handshake failed: {error.reason or error}",
                     {"ms": _ms(started)}, "look at the NGINX error log: "
                     "`sudo tail /var/log/nginx/error.log`")  # fmt: skip
    except OSError as error:
        return Check("tls", where, FAIL, f"connection failed: {error}", {}, "see the tcp check")
    names = [value for _, value in cert.get("subjectAltName", ())]
    issuer = dict(part[0] for part in cert.get("issuer", ()))
    not_before = ssl.cert_time_to_seconds(cert["notBefore"])
    not_after = ssl.cert_time_to_seconds(cert["notAfter"])
    days_left = (not_after - time.time()) / 86400
    lifetime = (not_after - not_before) / 86400
    warn_under = expiry_warning_days(lifetime)
    evidence = {
        "names": names, "issuer": issuer.get("organizationName") or issuer.get("commonName", ""),
        "days_left": round(days_left, 1), "lifetime_days": round(lifetime, 1),
        "version": version, "ms": _ms(started),
    }  # fmt: skip
    summary = (
        f"{', '.join(names)} from {evidence['issuer']}, {days_left:.1f} days left "
        f"(of {lifetime:.0f}), {version}"
    )
    if days_left < warn_under:
        return Check("tls", where, WARN, summary + f": under {warn_under} days", evidence,
                     "renewals are failing: `sudo journalctl -u workbench-tls-renew`, then "
                     "`sudo /opt/workbench/tls.sh renew`")  # fmt: skip
    return Check("tls", where, OK, summary, evidence)


def check_redirect(target: Target, timeout: float) -> Check:
    """Plain HTTP answers with a redirect to the same path and query over HTTPS."""
    path = "/jupyter/hub/login?next=%2Fdoctor"
    where = f"http://{target.host}:{target.http_port}{path}"
    expected = target.base + path
    try:
        response = http_get(target, path, timeout, plain=True)
    except OSError as error:
        return Check(
            "redirect", where, FAIL, f"connection failed: {error}", {}, "see the tcp check"
        )
    location = response.headers.get("location", "")
    evidence = {"status": response.status, "location": location, "ms": response.ms}
    if response.status in (301, 308) and location == expected:
        return Check("redirect", where, OK, f"{response.status} -> {location}", evidence)
    return Check(
        "redirect", where, FAIL,
        f"{response.status}, expected a redirect to {expected}", evidence,
        "is the rendered nginx.conf in place? `sudo /opt/workbench/provision.sh`",
    )  # fmt: skip


def check_renewal(target: Target, timeout: float) -> Check:
    """The outcome of the instance's last certificate request or renewal (tls.sh's status)."""
    try:
        response = http_get(target, TLS_STATUS_PATH, timeout)
    except OSError as error:
        return Check("renewal", TLS_STATUS_PATH, FAIL, f"connection failed: {error}", {},
                     "see the tls check")  # fmt: skip
    if response.status == 404:
        return Check("renewal", TLS_STATUS_PATH, SKIP, "no renewal recorded yet", {})
    try:
        status = json.loads(response.body)
        result, at = status["result"], status["at"]
    except (ValueError, KeyError, TypeError):
        return Check(
            "renewal", TLS_STATUS_PATH, FAIL, f"{response.status}: not a renewal status",
            {"status": response.status},
        )  # fmt: skip
    evidence = {"status": response.status, "at": at, "action": status.get("action")}
    if result == "ok":
        return Check("renewal", TLS_STATUS_PATH, OK, f"last {status.get('action')} ok at {at}",
                     evidence)  # fmt: skip
    return Check(
        "renewal", TLS_STATUS_PATH, FAIL,
        f"last {status.get('action')} failed at {at}: {status.get('reason', '')}", evidence,
        "the current certificate keeps serving until it expires; "
        "`sudo journalctl -u workbench-tls-renew`, then `sudo /opt/workbench/tls.sh renew`",
    )  # fmt: skip


def _read_head(sock: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 16384:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode("latin-1")


# -- running them --------------------------------------------------------------------------------


def diagnose(target: Target, config: WorkbenchConfig, *, timeout: float = 5.0) -> list[Check]:
    checks = [check_dns(target)]
    if checks[0].verdict == FAIL:
        return checks
    if target.https:
        plain = check_tcp(target, target.http_port, timeout, purpose="HTTP, redirects to HTTPS")
        checks.append(plain)
    web = check_tcp(
        target, target.port, timeout, purpose="HTTPS to NGINX" if target.https else "HTTP to NGINX"
    )
    checks.append(web)
    if target.ssh:
        checks.append(check_tcp(target, SSH_PORT, timeout, purpose="SSH"))
    if target.https and plain.verdict == OK:
        checks.append(check_redirect(target, timeout))
    if web.verdict == FAIL:
        return checks
    if target.https:
        certificate = check_certificate(target, timeout)
        checks.append(certificate)
        if certificate.verdict == FAIL:
            return checks
        checks.append(check_renewal(target, timeout))
    checks.append(check_landing(target, timeout))
    for service in public_services(config):
        service_checks = check_service(target, service, timeout)
        if service.websocket_probes:
            service_checks.append(check_websocket(target, service, timeout))
        for check in service_checks:
            check.evidence["service"] = service.name
        checks.extend(service_checks)
    skipped = {c.evidence["service"] for c in checks if c.verdict == SKIP}
    # A service left out on purpose: its websocket cannot answer either.
    checks = [
        c for c in checks if not (c.check == "websocket" and c.evidence.get("service") in skipped)
    ]
    return checks


def tunnel_hints(target: Target, config: WorkbenchConfig, checks: list[Check]) -> list[str]:
    """The SSH tunnel command for each service that failed: reach it around the proxy."""
    failed = {c.evidence.get("service") for c in checks if c.verdict == FAIL}
    hints = []
    for service in services(config):
        if service.name in failed:
            command = target.tunnels.get(service.name) or ssh_tunnel(service.port, target.host)
            hints.append(f"{service.title}: {command}  then open http://localhost:{service.port}/")
    return hints


def render_table(checks: list[Check], hints: list[str]) -> str:
    rows = [(c.check, c.target, c.verdict, c.summary, _evidence_text(c.evidence)) for c in checks]
    headers = ("check", "target", "verdict", "finding", "evidence")
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join
    out = [line(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.append(line("-" * w for w in widths))
    for check, row in zip(checks, rows, strict=True):
        out.append(line(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if check.next_step:
            out.append(f"    next: {check.next_step}")
    failed = sum(c.verdict == FAIL for c in checks)
    skipped = sum(c.verdict == SKIP for c in checks)
    warned = sum(c.verdict == WARN for c in checks)
    out.append("")
    if failed:
        out.append(f"{failed} of {len(checks)} checks failed")
    elif warned:
        out.append(f"no check failed ({warned} warning{'s' if warned > 1 else ''})")
    elif skipped:
        out.append(f"no check failed ({skipped} skipped: not on this target)")
    else:
        out.append(f"all {len(checks)} checks passed")
    if hints:
        out.append("Reach the failing services around the proxy with an SSH tunnel:")
        out.extend(f"  {hint}" for hint in hints)
    return "\n".join(out)


def _evidence_text(evidence: dict) -> str:
    parts = []
    if "status" in evidence:
        parts.append(f"HTTP {evidence['status']}")
    if "location" in evidence:
        parts.append(f"Location: {evidence['location']}")
    if "ms" in evidence:
        parts.append(f"{evidence['ms']:.0f} ms")
    if "addresses" in evidence:
        parts.append(", ".join(evidence["addresses"]))
    if "days_left" in evidence:
        parts.append(f"{evidence['days_left']} days left")
    return "; ".join(parts)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _reason(status: int) -> str:
    return http.client.responses.get(status, "")


def run(
    *,
    url: str | None,
    stack: str | None,
    config: WorkbenchConfig,
    timeout: float,
    as_json: bool,
    region: str | None = None,
    write: Callable[[str], None] = print,
    ca_file: str | None = None,
    http_port: int = HTTP_PORT,
) -> int:
    if timeout <= 0 or timeout > 120:
        raise DoctorError(f"--timeout: got {timeout:g}; expected seconds from 0.1 to 120")
    if ca_file is not None and not os.path.isfile(ca_file):
        raise DoctorError(f"--ca-file: got {ca_file!r}; expected a PEM file of trusted roots")
    if not 1 <= http_port <= 65535:
        raise DoctorError(f"--http-port: got {http_port}; expected a port from 1 to 65535")
    if url:
        target = target_from_url(url, ca_file=ca_file, http_port=http_port)
    else:
        target = target_from_stack(stack or config.stack_name, config, region=region)
        target = dataclasses.replace(target, ca_file=ca_file)
    checks = diagnose(target, config, timeout=timeout)
    hints = tunnel_hints(target, config, checks)
    failed = any(c.verdict == FAIL for c in checks)
    if as_json:
        write(
            json.dumps(
                {
                    "target": target.base,
                    "ok": not failed,
                    "checks": [asdict(c) for c in checks],
                    "tunnels": hints,
                },
                indent=2,
            )
        )
    else:
        write(f"workbench doctor: {target.base}\n")
        write(render_table(checks, hints))
    return 1 if failed else 0


def main(argv: list[str] | None = None, config: WorkbenchConfig | None = None) -> int:
    import argparse

    from workbench.config import ConfigError, load_checkout_config

    parser = argparse.ArgumentParser(
        prog="python -m workbench doctor",
        description="Find where traffic to the workbench stops: DNS, firewall, proxy, service.",
    )
    parser.add_argument("--stack", help="CloudFormation stack name (default: the configured one)")
    parser.add_argument(
        "--url", help="probe this address instead: http://HOST[:PORT] or https://HOST[:PORT]"
    )
    parser.add_argument(
        "--ca-file",
        help="with https: trust this CA file (a local Pebble's root) instead of the system's",
    )
    parser.add_argument(
        "--http-port", type=int, default=HTTP_PORT,
        help="with an https --url: the plain HTTP port that should redirect (default 80)",
    )  # fmt: skip
    parser.add_argument("--region", help="AWS region of the stack (default: your AWS config)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per check (5)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        if config is None:
            config = load_checkout_config()
        return run(
            url=args.url,
            stack=args.stack,
            config=config,
            timeout=args.timeout,
            as_json=args.json,
            region=args.region,
            ca_file=args.ca_file,
            http_port=args.http_port,
        )
    except (DoctorError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
