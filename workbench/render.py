"""Render the provisioning bundle: every file the instance (or a local run) needs, from one config.

`render_bundle(config, dest)` writes the instance's files. Live tests and `make local` call the
same function with a `Target` that moves NGINX onto loopback, points it at other upstream ports
and lets JupyterHub sign users in without PAM and systemd; nothing else differs. Templates live
in `assets/` and use StrictUndefined: a missing variable is an error, never an empty string.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import jinja2

from workbench import layout, pins, provisioning
from workbench.config import SHARED_FOLDER, TEAM_GROUP, WorkbenchConfig
from workbench.idle import MIN_CULL_TIMEOUT_S, CullTiming, cull_timing
from workbench.services import (
    ACME_CHALLENGE_PATH,
    CERT_NAME,
    HTTP_PORT,
    HTTPS_PORT,
    TLS_STATUS_PATH,
    catalog,
    certificate_names,
    public_services,
    services,
    ssh_tunnel,
)

ASSETS = Path(__file__).resolve().parent.parent / "assets"
INSTANCE_ROOT = layout.INSTANCE_ROOT
PROVISION_LOCK = "/run/lock/workbench-provision.lock"
"""The flock that keeps provisioning runs from overlapping (the bootstrap takes it first)."""
# The renewal timer's unit names (rendered only when HTTPS is on) and schedule.
TLS_RENEW_UNIT = "workbench-tls-renew"
RENEW_CALENDAR = "*-*-* 00,12:00:00"
RENEW_DELAY = "1h"
AUTHENTICATORS = ("pam", "local")
PROXY_UNIT = "jupyterhub-proxy"
"""configurable-http-proxy's unit on the instance, apart from the hub's."""
USER_SERVER_UNIT = "jupyter-{USERNAME}-singleuser"
"""SystemdSpawner's unit for a user's server (provision.sh stops a removed user's)."""


class TargetError(ValueError):
    """A render parameter that cannot be used; the message is one line, ready to print."""


@dataclass(frozen=True, kw_only=True)
class Target:
    """Where the rendered files run. The defaults describe the EC2 instance."""

    listen: str = str(HTTP_PORT)
    """NGINX `listen` value: `80` on the instance, `127.0.0.1:<port>` on loopback."""
    ports: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Port per port name (`api`, `jupyterhub.hub`, ...), overriding the registry's."""
    root: str = INSTANCE_ROOT
    """Where the bundle lives when it runs (the landing page is served from `<root>/www`)."""
    nginx_runtime: str | None = None
    """None: the system's NGINX layout (/etc/nginx, /var/log/nginx, runs as www-data).
    A directory: pid, access log and temp files go there and errors to stderr, so that an
    unprivileged NGINX can run it under a supervisor."""
    nginx_user: str | None = None
    """With `nginx_runtime`: the user NGINX's workers run as. Root's workers would otherwise run as
    `nobody`, which cannot read a bundle under a private temp directory."""
    mime_types: str = "/etc/nginx/mime.types"
    authenticator: str = "pam"
    """`pam` on the instance: Linux users and their passwords, each server a systemd unit of its
    own (SystemdSpawner, with the per-user limits). `local` for tests and local mode, where
    there is neither: each user's password is checked against `login_file`, and every server
    runs as the hub's own user."""
    login_file: str | None = None
    """With `local`: a JSON file of salted scrypt hashes, one per user, that the runner writes
    (0600). Never a password in a rendered file."""
    cull_timeout_seconds: int | None = None
    """The idle culler's timeout; None: the config's `idle_cull_minutes`. Live tests use
    seconds (the intervals follow, see workbench/idle.py)."""
    jupyterhub_state: str = "/var/lib/jupyterhub"
    """JupyterHub's database and cookie secret (and, with `local`, the users' homes)."""
    jupyterhub_bin: str = f"{layout.JUPYTERHUB_VENV}/bin"
    """Where `jupyterhub-singleuser` is (the JupyterHub venv)."""
    ssh_host: str = "<public-ip>"
    """What the landing page's SSH tunnel hint connects to."""
    unavailable: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Service name -> why it does not run on this target (local mode: RStudio Server). The
    landing page and the service's error page say so instead of offering a dead link."""
    # -- HTTPS (used only when the config's `https` is on) --
    https_listen: str = str(HTTPS_PORT)
    """NGINX's TLS `listen` value: `443` on the instance, `127.0.0.1:<port>` on loopback."""
    nginx_conf: str = "/etc/nginx/nginx.conf"
    """The config NGINX runs: tls.sh installs the full one there once a certificate exists."""
    tls_dir: str = "/home/.workbench/letsencrypt"
    """certbot's config directory: the certificates and the ACME account. On the /home volume,
    so that a re-provision, a reboot or a replaced instance finds them (rate limits)."""
    tls_state: str = layout.TLS_STATE
    """certbot's webroot (the challenges NGINX serves), work directory and the status file."""
    tls_logs: str = "/var/log/letsencrypt"
    certbot: str = layout.CERTBOT
    """The pinned certbot (its own venv on the instance, the dev venv's locally)."""
    tls_address: str | None = None
    """With `https=ip`: the address on the certificate. None on the instance, where it is the
    Elastic IP (WORKBENCH_PUBLIC_IP in /etc/workbench/env, known only at deploy time)."""
    acme_ca_bundle: str | None = None
    """A CA file certbot trusts for the ACME server's own HTTPS (a local Pebble's); None: the
    system's (Let's Encrypt's directory has a public certificate)."""

    @property
    def http_port(self) -> int:
        return int(self.listen.rsplit(":", 1)[-1])

    @property
    def https_port(self) -> int:
        return int(self.https_listen.rsplit(":", 1)[-1])

    def __post_init__(self) -> None:
        if self.authenticator not in AUTHENTICATORS:
            raise TargetError(
                f"authenticator: got {self.authenticator!r}; expected one of "
                f"{', '.join(AUTHENTICATORS)}"
            )
        if self.authenticator == "local" and not self.login_file:
            raise TargetError(
                f"login_file: got {self.login_file!r}; expected the path of the users' password "
                "hashes with the local authenticator"
            )
        if self.authenticator == "pam" and self.login_file is not None:
            raise TargetError(
                f"login_file: got {self.login_file!r}; expected None with the pam authenticator "
                "(PAM checks the Linux passwords)"
            )
        if self.cull_timeout_seconds is not None:
            try:
                if isinstance(self.cull_timeout_seconds, bool) or not isinstance(
                    self.cull_timeout_seconds, int
                ):
                    raise ValueError
                cull_timing(self.cull_timeout_seconds)  # its bound, checked there only
            except ValueError:
                raise TargetError(
                    f"cull_timeout_seconds: got {self.cull_timeout_seconds!r}; expected None or a "
                    f"whole number of seconds from {MIN_CULL_TIMEOUT_S}"
                ) from None
        for name, listen in (("listen", self.listen), ("https_listen", self.https_listen)):
            if not listen.rsplit(":", 1)[-1].isdigit():
                raise TargetError(f"{name}: got {listen!r}; expected PORT or ADDRESS:PORT")
        for name, port in self.ports.items():
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise TargetError(f"ports[{name!r}]: got {port!r}; expected a port from 1 to 65535")


INSTANCE = Target()


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ASSETS),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    )
    env.filters["shquote"] = lambda value: shlex.quote(str(value))
    # A global, not a render value: layout.j2 is imported without the context.
    env.globals["paths"] = layout.TEMPLATE_PATHS
    return env


def port_map(config: WorkbenchConfig, target: Target = INSTANCE) -> dict[str, int]:
    """Every port name of every service -> the port it uses for this target."""
    defaults: dict[str, int] = {}
    for s in services(config):
        defaults |= s.default_ports()
    unknown = sorted(set(target.ports) - set(defaults))
    if unknown:
        raise TargetError(
            f"ports: got unknown name {unknown[0]!r}; expected names from "
            f"{', '.join(sorted(defaults))}"
        )
    return defaults | dict(target.ports)


def culling(config: WorkbenchConfig, target: Target = INSTANCE) -> CullTiming | None:
    """The idle culler's timing for this target; None when culling is off."""
    if target.cull_timeout_seconds is not None:
        return cull_timing(target.cull_timeout_seconds)
    if config.idle_cull_minutes == 0:
        return None
    return cull_timing(config.idle_cull_minutes * 60)


def proxy_args(config: WorkbenchConfig, target: Target = INSTANCE) -> list[str]:
    """configurable-http-proxy's arguments, as JupyterHub would start it, for the proxy that runs
    apart from the hub (its own systemd unit; its own process locally), so that a hub restart
    keeps every route and every open connection to a user's server."""
    ports = port_map(config, target)
    hub = next(s for s in services(config) if s.name == "jupyterhub")
    return [
        *("--ip", "127.0.0.1", "--port", str(ports["jupyterhub"])),
        *("--api-ip", "127.0.0.1", "--api-port", str(ports["jupyterhub.proxy-api"])),
        # Where the proxy sends a request it cannot serve: the hub's error page.
        *("--error-target", f"http://127.0.0.1:{ports['jupyterhub.hub']}{hub.path}/hub/error"),
        *("--log-level", "info"),
    ]


def render_text(template: str, **values: object) -> str:
    """Render one template from `assets/` with the given values."""
    return _environment().get_template(template).render(**values)


def tls_paths(target: Target) -> dict[str, str]:
    """Where certbot and NGINX keep what HTTPS needs, for this target."""
    live = f"{target.tls_dir}/live/{CERT_NAME}"
    return {
        "certificate": f"{live}/fullchain.pem",
        "key": f"{live}/privkey.pem",
        "webroot": f"{target.tls_state}/webroot",
        "work": f"{target.tls_state}/work",
        "status_file": f"{target.tls_state}/status.json",
    }


def _tls(config: WorkbenchConfig, target: Target) -> dict[str, object] | None:
    if not config.https_on:
        return None
    port = "" if target.https_port == HTTPS_PORT else f":{target.https_port}"
    # A domain: always to the name on the certificate. An address: to the one the browser used
    # (the Elastic IP, or 127.0.0.1 locally); the port is NGINX's TLS port.
    host = config.domain or "$host"
    # The name on the certificate, as a shell word. On the instance with https=ip it is the
    # Elastic IP, known only at deploy time: /etc/workbench/env's WORKBENCH_PUBLIC_IP, expanded
    # where tls.env is sourced and where provision.sh runs.
    (name,) = certificate_names(config, address=target.tls_address or "")
    return {
        **tls_paths(target),
        "https_listen": target.https_listen,
        "https_port": target.https_port,
        "hsts": config.domain is not None,
        "redirect": f"https://{host}{port}$request_uri",
        "challenge_path": ACME_CHALLENGE_PATH,
        "status_path": TLS_STATUS_PATH,
        # tls.env's default for TLS_NAME (empty if the env file lacks the address: tls.sh says so).
        "name": shlex.quote(name) if name else "${WORKBENCH_PUBLIC_IP:-}",
        # provision.sh's health check reaches NGINX by that name (in double quotes).
        "https_origin": f"https://{name or '${WORKBENCH_PUBLIC_IP}'}{port}",
        "kind": "dns" if config.domain else "ip",
        "cert_name": CERT_NAME,
    }


def _context(config: WorkbenchConfig, target: Target) -> dict[str, object]:
    all_services = services(config)
    return {
        "tls": _tls(config, target),
        "renew_unit": TLS_RENEW_UNIT,
        "renew_calendar": RENEW_CALENDAR,
        "renew_delay": RENEW_DELAY,
        # nginx.conf.j2: the full config (every location); nginx-acme.conf sets it False.
        "certificate": True,
        "config": config,
        "target": target,
        "services": all_services,
        "public": public_services(config),
        "private": tuple(s for s in all_services if not s.public),
        "by_name": {s.name: s for s in all_services},
        "port": port_map(config, target),
        "www": f"{target.root}/www",
        "first_login": WorkbenchConfig().users[0],
        "team_group": TEAM_GROUP,
        "shared_folder": SHARED_FOLDER,
        "culling": culling(config, target),
        "proxy_args": proxy_args(config, target),
        "proxy_unit": PROXY_UNIT,
        "user_server_unit_template": USER_SERVER_UNIT,
        "user_server_unit": lambda user: USER_SERVER_UNIT.format(USERNAME=user),
        "tunnel": {s.name: ssh_tunnel(s.port, target.ssh_host) for s in all_services},
        "catalog": catalog(),
        "pins": pins,
        "install_pins": provisioning.install_pins(config.ubuntu_release),
        "needed_install_steps": provisioning.needed_install_steps(config),
        "configure_steps": provisioning.configure_steps(config),
        "lock_file": PROVISION_LOCK,
        # The units a failed replacement stops before it gives /home back (identity.sh).
        # Each user's JupyterLab server is a unit of its own (SystemdSpawner), which outlives the
        # hub's: a pattern systemctl matches against the loaded units.
        "home_units": (
            *(s.unit for s in all_services if s.uses_home),
            USER_SERVER_UNIT.format(USERNAME="*") + ".service",
        ),
    }


# (template, output path, file mode)
_FILES: tuple[tuple[str, str, int], ...] = (
    ("nginx.conf.j2", "nginx.conf", 0o644),
    ("index.html.j2", "www/index.html", 0o644),
    ("jupyterhub_config.py.j2", "jupyterhub_config.py", 0o644),
    ("penguins-app/settings.json.j2", "penguins-app/settings.json", 0o644),
    ("provision.sh.j2", "provision.sh", 0o755),
    # Instance only: RStudio Server, Shiny Server and the systemd units provision.sh installs.
    ("rserver.conf.j2", "rserver.conf", 0o644),
    ("rsession.conf.j2", "rsession.conf", 0o644),
    ("shiny-server.conf.j2", "shiny-server.conf", 0o644),
    ("systemd/jupyterhub.service.j2", "systemd/jupyterhub.service", 0o644),
    (f"systemd/{PROXY_UNIT}.service.j2", f"systemd/{PROXY_UNIT}.service", 0o644),
    ("systemd/penguin-api.service.j2", "systemd/penguin-api.service", 0o644),
)
_STATIC: tuple[tuple[str, str], ...] = (
    ("style.css", "www/style.css"),
    # Instance only: JupyterHub's pinned Python packages and configurable-http-proxy's lockfile.
    ("jupyterhub/requirements.txt", "jupyterhub/requirements.txt"),
    ("jupyterhub/chp/package.json", "jupyterhub/chp/package.json"),
    ("jupyterhub/chp/package-lock.json", "jupyterhub/chp/package-lock.json"),
    ("home-volume.sh", "home-volume.sh"),
    ("identity.sh", "identity.sh"),
    # certbot's pinned venv: an install step (an image bakes it whatever the config).
    ("certbot/requirements.txt", "certbot/requirements.txt"),
)
# Only with HTTPS on: certbot's parameters, the renewal timer, certbot's pinned requirements and
# the one script that runs certbot (provision.sh, the timer, local mode and the tests).
_TLS_FILES: tuple[tuple[str, str, int], ...] = (
    ("tls.env.j2", "tls.env", 0o644),
    (f"systemd/{TLS_RENEW_UNIT}.service.j2", f"systemd/{TLS_RENEW_UNIT}.service", 0o644),
    (f"systemd/{TLS_RENEW_UNIT}.timer.j2", f"systemd/{TLS_RENEW_UNIT}.timer", 0o644),
)
_TLS_STATIC: tuple[tuple[str, str], ...] = (("tls.sh", "tls.sh"),)
# Directories copied as they are (templates in them are rendered through _FILES instead).
_STATIC_DIRS: tuple[str, ...] = ("penguin-api", "penguins-app")


def render_bundle(config: WorkbenchConfig, dest: Path, *, target: Target = INSTANCE) -> Path:
    """Write the bundle into `dest` (created if needed, emptied first) and return it."""
    dest = Path(dest)
    env = _environment()
    context = _context(config, target)  # validates the target before anything is written
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for directory in _STATIC_DIRS:
        shutil.copytree(
            ASSETS / directory,
            dest / directory,
            ignore=shutil.ignore_patterns("*.j2", "__pycache__", "*.pyc"),
        )
    for template, out, mode in _FILES:
        _write(dest / out, env.get_template(template).render(**context), mode)
    if config.https_on:
        for template, out, mode in _TLS_FILES:
            _write(dest / out, env.get_template(template).render(**context), mode)
        # Before a certificate exists NGINX runs this one: port 80 answers the challenge.
        acme = env.get_template("nginx.conf.j2").render(**(context | {"certificate": False}))
        _write(dest / "nginx-acme.conf", acme, 0o644)
        for source, out in _TLS_STATIC:
            (dest / out).parent.mkdir(parents=True, exist_ok=True)
            _copy(ASSETS / source, dest / out)
    for s in public_services(config):
        page = env.get_template("502.html.j2").render(**(context | {"service": s}))
        _write(dest / "www" / "errors" / f"{s.name}.html", page, 0o644)
    for source, out in _STATIC:
        (dest / out).parent.mkdir(parents=True, exist_ok=True)
        _copy(ASSETS / source, dest / out)
    return dest


def _copy(source: Path, dest: Path) -> None:
    """Copy a static file; an executable one (git keeps the bit) stays executable. Modes are
    normalised to 0755/0644, so the bundle does not depend on the checkout's umask."""
    shutil.copyfile(source, dest)
    dest.chmod(0o755 if source.stat().st_mode & 0o111 else 0o644)


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
