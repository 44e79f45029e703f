"""Live layer: the rendered bundle on loopback, real NGINX in front of real servers.

Heavy servers start once: `workbench` (the default configuration: everything that runs here,
plus the RStudio stand-in) for the whole session, `public_api` (penguin_api_public, only NGINX
and the API) per module that asks for it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from workbench.config import WorkbenchConfig
from workbench.local.acme import Pebble, start_pebble
from workbench.local.runner import (
    LocalWorkbench,
    ProcessSpec,
    Supervisor,
    free_port,
    start_workbench,
)
from workbench.toolchain import REPO

# Anything slower than this is stuck (JupyterHub spawn, a server that never answers).
LIVE_TIMEOUT = 180


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/live/" in item.nodeid:
            item.add_marker(pytest.mark.live)
            item.add_marker(pytest.mark.timeout(LIVE_TIMEOUT))


@dataclass
class Live:
    wb: LocalWorkbench
    supervisor: Supervisor

    def url(self, path: str) -> str:
        return self.wb.url + path


def rstudio_standin(wb: LocalWorkbench) -> ProcessSpec:
    port = wb.ports["rstudio"]
    return ProcessSpec(
        name="rstudio",
        argv=[
            sys.executable,
            "-m",
            "tests.standins.rstudio",
            "--port",
            str(port),
            "--password",
            wb.password,
            "--user",
            wb.user,
        ],
        cwd=REPO,
        ready_url=f"http://127.0.0.1:{port}/auth-sign-in",
    )


@pytest.fixture(scope="session")
def workbench(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workbench")
    with Supervisor(workdir / "logs") as supervisor:
        wb = start_workbench(WorkbenchConfig(), workdir, supervisor)
        supervisor.start(rstudio_standin(wb))
        yield Live(wb, supervisor)


@pytest.fixture(scope="module")
def public_api(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("public-api")
    config = WorkbenchConfig(penguin_api_public=True)
    with Supervisor(workdir / "logs") as supervisor:
        yield Live(start_workbench(config, workdir, supervisor, only=["api"]), supervisor)


@pytest.fixture(scope="session")
def pebble(tmp_path_factory) -> Pebble:
    """One Pebble per session (per xdist worker), shared by every test that needs an ACME
    server. It validates challenges on `pebble.http_port`: the NGINX under test listens there."""
    workdir = tmp_path_factory.mktemp("pebble")
    with Supervisor(workdir / "logs") as supervisor:
        yield start_pebble(supervisor, workdir, http_port=free_port())
