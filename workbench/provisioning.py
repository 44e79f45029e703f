"""provision.sh's phases and steps, declared once.

provision.sh runs in one of three phases:
- `install`: everything that depends on no configuration, user or secret (packages, the pinned
  downloads, Node, the venvs, configurable-http-proxy). A baked image runs it at build time.
- `configure`: everything rendered from the configuration (the instance's identity: /home's
  volume and the Elastic IP, the /home mount, users, config files,
  units, NGINX, the health check, the signal). It first runs each install step this configuration
  needs whose stamp (the pin the step last completed with, in STAMP_DIR) differs from the
  bundle's pin: on a baked image that is nothing, or exactly the steps whose pin changed since the
  image was baked.
- `all` (the default, on a stock image): every install step this configuration needs, then
  `configure`. The install steps' own guards skip what is in place, so a re-run repairs and
  changes nothing that is right.

The template (assets/provision.sh.j2) has a `step_<name>` function per step (hyphens become
underscores); adding a step is one entry here and that function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from workbench import layout
from workbench.config import WorkbenchConfig
from workbench.pins import APT_PACKAGES, NODE, R_PACKAGES, R_VERSIONS, RSTUDIO, SHINY

PHASES = ("install", "configure", "all")
STAMP_DIR = layout.STAMP_DIR
"""Where each install step records the pin it completed with (on the root volume, so a baked
image carries its stamps)."""
PIN_CHARS = 16


def _always(config: WorkbenchConfig) -> bool:
    return True


@dataclass(frozen=True, kw_only=True)
class InstallStep:
    name: str
    summary: str
    pins: Callable[[str], tuple[str, ...]] = lambda release: ()
    """The versions and checksums it installs, for an Ubuntu release."""
    files: tuple[str, ...] = ()
    """Bundle files (paths under assets/, as in the bundle) whose content it installs. A config
    file that a configure step also puts (and restarts its service for) is not one of them."""
    needed: Callable[[WorkbenchConfig], bool] = _always
    """Whether a configuration needs it (the image installs every step regardless)."""


INSTALL_STEPS: tuple[InstallStep, ...] = (
    InstallStep(
        name="packages",
        summary="Ubuntu packages: NGINX, curl, python3-venv, ...",
        pins=lambda release: APT_PACKAGES,
    ),
    InstallStep(
        name="r",
        summary="R from Ubuntu's archive (RStudio Server needs it)",
        pins=lambda release: (*R_PACKAGES, R_VERSIONS[release]),
    ),
    InstallStep(
        name="rstudio",
        summary="RStudio Server's .deb (listening on loopback from its first start)",
        pins=lambda release: (RSTUDIO.url, RSTUDIO.sha256),
        # It puts rserver.conf before the package's first start, but the rstudio-service step
        # owns that file (it puts it again and restarts for it): no pin on it, so that editing
        # the template re-runs no install step on a baked image.
    ),
    InstallStep(
        name="node",
        summary="Node.js for configurable-http-proxy",
        pins=lambda release: (NODE.url, NODE.sha256),
    ),
    InstallStep(
        name="jupyterhub",
        summary="JupyterHub's venv and configurable-http-proxy (npm ci from its lockfile)",
        files=(
            "jupyterhub/requirements.txt",
            "jupyterhub/chp/package.json",
            "jupyterhub/chp/package-lock.json",
        ),
    ),
    InstallStep(
        name="api",
        summary="The penguin model API's venv",
        files=("penguin-api/requirements.txt",),
    ),
    InstallStep(
        name="shiny",
        summary="Shiny Server's .deb and the penguins app's venv",
        pins=lambda release: (SHINY.url, SHINY.sha256),
        # shiny-server.conf, put before the first start as rserver.conf is: the shiny-service
        # step's to pin, not this one's.
        files=("penguins-app/requirements.txt",),
        needed=lambda config: config.penguins_app,
    ),
    InstallStep(
        name="certbot",
        summary=f"certbot 5.8 in its own venv ({layout.CERTBOT_VENV}), every dependency pinned "
        "by hash",
        files=("certbot/requirements.txt",),
        # Every configuration: turning https on later needs no install, and `all` stays what
        # `install` then `configure` does.
    ),
)


def install_pin(step: InstallStep, release: str) -> str:
    """The step's pin: a digest of its name, its versions and checksums, and the content of the
    files it installs. Any change of one of them changes the pin, and only this step's."""
    from workbench.render import ASSETS

    digest = hashlib.sha256(step.name.encode())
    for value in step.pins(release):
        digest.update(b"\0" + value.encode())
    for name in step.files:
        digest.update(b"\0" + name.encode() + b"\0" + (ASSETS / name).read_bytes())
    return digest.hexdigest()[:PIN_CHARS]


def install_pins(release: str) -> dict[str, str]:
    """Every install step's pin, in order."""
    return {step.name: install_pin(step, release) for step in INSTALL_STEPS}


def needed_install_steps(config: WorkbenchConfig) -> tuple[str, ...]:
    return tuple(step.name for step in INSTALL_STEPS if step.needed(config))


def configure_steps(config: WorkbenchConfig) -> tuple[str, ...]:
    """The configure phase's steps, in order. Each service's step writes its configuration and
    restarts the service only if one of its files changed."""
    # identity first: the instance attaches /home's volume and takes the address (from the
    # instance it replaces, if any) before `home` mounts it; everything before it (the install
    # phase) runs while the old instance still serves.
    steps = ["identity", "home", "users", "rstudio-service", "jupyterhub-service", "api-service"]
    if config.penguins_app:
        steps.append("shiny-service")
    steps.append("nginx")
    if config.https_on:
        # After nginx: its port 80 answers the challenge; then NGINX serves the certificate.
        steps.append("tls")
    steps.append("health")
    return tuple(steps)
