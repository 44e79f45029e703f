"""Render the provisioning bundle: every file the instance (or a local run) needs, from one config.

`render_bundle(config, dest)` writes the instance's files. Live tests and `make local` call the
same function with a `Target` that moves NGINX onto loopback and points it at other upstream
ports; nothing else differs. Templates live in `assets/` and use StrictUndefined: a missing
variable is an error, never an empty string.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import jinja2

from workbench.config import LOGIN_USER, WorkbenchConfig
from workbench.services import Service, public_services, services

ASSETS = Path(__file__).resolve().parent.parent / "assets"
INSTANCE_ROOT = "/opt/workbench"


@dataclass(frozen=True, kw_only=True)
class Target:
    """Where the rendered files run. The defaults describe the EC2 instance."""

    listen: str = "80"
    """NGINX `listen` value: `80` on the instance, `127.0.0.1:<port>` on loopback."""
    ports: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Upstream port per service name, overriding the registry's (tests pick free ports)."""
    root: str = INSTANCE_ROOT
    """Where the bundle lives when it runs (the landing page is served from `<root>/www`)."""
    nginx_runtime: str | None = None
    """None: the system's NGINX layout (/etc/nginx, /var/log/nginx, runs as www-data).
    A directory: pid, logs and temp files go there, so an unprivileged NGINX can run it."""
    nginx_user: str | None = None
    """With `nginx_runtime`: the user NGINX's workers run as. Root's workers would otherwise run as
    `nobody`, which cannot read a bundle under a private temp directory."""
    mime_types: str = "/etc/nginx/mime.types"
    authenticator: str = "pam"
    """`pam` on the instance; `dummy` for tests and local mode (a shared generated password)."""
    ssh_host: str = "<public-ip>"
    """What the landing page's SSH tunnel hint connects to."""


INSTANCE = Target()


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(ASSETS),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    )


def upstream_port(service: Service, target: Target) -> int:
    return target.ports.get(service.name, service.port)


def render_text(template: str, **values: object) -> str:
    """Render one template from `assets/` with the given values."""
    return _environment().get_template(template).render(**values)


def _context(config: WorkbenchConfig, target: Target) -> dict[str, object]:
    all_services = services(config)
    return {
        "config": config,
        "target": target,
        "services": all_services,
        "public": public_services(config),
        "private": tuple(s for s in all_services if not s.public),
        "port": {s.name: upstream_port(s, target) for s in all_services},
        "www": f"{target.root}/www",
        "login_user": LOGIN_USER,
    }


# (template, output path, file mode)
_FILES: tuple[tuple[str, str, int], ...] = (
    ("nginx.conf.j2", "nginx.conf", 0o644),
    ("index.html.j2", "www/index.html", 0o644),
    ("provision.sh.j2", "provision.sh", 0o755),
    # Instance only: RStudio Server, Shiny Server and the systemd units provision.sh installs.
    ("rserver.conf.j2", "rserver.conf", 0o644),
    ("shiny-server.conf.j2", "shiny-server.conf", 0o644),
    ("systemd/jupyterhub.service.j2", "systemd/jupyterhub.service", 0o644),
    ("systemd/penguin-api.service.j2", "systemd/penguin-api.service", 0o644),
)
_STATIC: tuple[tuple[str, str], ...] = (
    ("style.css", "www/style.css"),
    # Instance only: JupyterHub's pinned Python packages and configurable-http-proxy's lockfile.
    ("jupyterhub/requirements.txt", "jupyterhub/requirements.txt"),
    ("jupyterhub/chp/package.json", "jupyterhub/chp/package.json"),
    ("jupyterhub/chp/package-lock.json", "jupyterhub/chp/package-lock.json"),
    ("home-volume.sh", "home-volume.sh"),
)


def render_bundle(config: WorkbenchConfig, dest: Path, *, target: Target = INSTANCE) -> Path:
    """Write the bundle into `dest` (created if needed, emptied first) and return it."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    env = _environment()
    context = _context(config, target)
    for template, out, mode in _FILES:
        _write(dest / out, env.get_template(template).render(**context), mode)
    for service in public_services(config):
        page = env.get_template("502.html.j2").render(service=service, **context)
        _write(dest / "www" / "errors" / f"{service.name}.html", page, 0o644)
    for source, out in _STATIC:
        (dest / out).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ASSETS / source, dest / out)
    return dest


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
