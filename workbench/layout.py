"""Where the workbench keeps its own files on the instance, each path written once.

The Python side reads these constants (render.Target's defaults, provisioning.STAMP_DIR,
image.py's unpacking); every template sees them as `paths` (a Jinja global of render.py's
environment): assets/layout.j2 builds the rest of the instance's layout from them, and the
bootstrap, rendered apart from the bundle, reads them there too.
"""

from __future__ import annotations

from types import MappingProxyType

INSTANCE_ROOT = "/opt/workbench"
"""The bundle, where the bootstrap unpacks it and provision.sh runs from it."""
STATE_DIR = "/var/lib/workbench"
"""What provisioning records between runs (on the root volume: a baked image carries it)."""
LOG_DIR = "/var/log/workbench"
ENV_FILE = "/etc/workbench/env"
"""The deploy-time values (region, stack, resource IDs) the bootstrap writes and provision.sh
(for identity.sh and home-volume.sh too) and the renewal unit load."""
STAMP_DIR = f"{STATE_DIR}/installed"
"""Where each install step records the pin it completed with (workbench/provisioning.py)."""
TLS_STATE = f"{STATE_DIR}/tls"
"""certbot's webroot, work directory and the status file."""
CERTBOT_VENV = "/opt/certbot"
"""The pinned certbot's own venv."""
CERTBOT = f"{CERTBOT_VENV}/bin/certbot"
BUNDLE_ZIP = "/tmp/workbench-bundle.zip"
"""Where the bundle's zip lands before it is unpacked into INSTANCE_ROOT (the bootstrap's
download, the image build's S3Download)."""
JUPYTERHUB_DIR = "/opt/jupyterhub"
"""JupyterHub's venv and configurable-http-proxy's node_modules."""
JUPYTERHUB_VENV = f"{JUPYTERHUB_DIR}/venv"
"""JupyterHub, the spawner, the culler and jupyterhub-singleuser."""

TEMPLATE_PATHS = MappingProxyType(
    {
        "instance_root": INSTANCE_ROOT,
        "bundle_zip": BUNDLE_ZIP,
        "state_dir": STATE_DIR,
        "log_dir": LOG_DIR,
        "env_file": ENV_FILE,
        "stamp_dir": STAMP_DIR,
        "certbot_venv": CERTBOT_VENV,
        "jupyterhub_dir": JUPYTERHUB_DIR,
        "jupyterhub_venv": JUPYTERHUB_VENV,
    }
)
"""What the templates see as `paths`."""
