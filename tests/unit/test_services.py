"""The service registry: one place for names, ports and paths, consistent with itself."""

from __future__ import annotations

import re

import pytest

from workbench.config import WorkbenchConfig
from workbench.render import port_map
from workbench.services import public_services, service, services

CONFIGS = [
    WorkbenchConfig(),
    WorkbenchConfig(penguin_api_public=True),
    WorkbenchConfig(penguins_app=False),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_ports_and_paths_are_unique(config):
    ports = list(port_map(config).values())
    assert len(ports) == len(set(ports)), f"a port is used twice: {sorted(ports)}"
    paths = [s.path for s in services(config)]
    assert len(paths) == len(set(paths))


def test_the_chapters_ports_and_paths():
    by_name = {s.name: (s.port, s.path) for s in services(WorkbenchConfig())}
    assert by_name == {
        "jupyterhub": (8000, "/jupyter"),
        "rstudio": (8787, "/rstudio"),
        "penguins": (3838, "/penguins"),
        "api": (8080, "/api"),
    }


@pytest.mark.parametrize("config", CONFIGS)
def test_paths_are_single_segments_without_trailing_slash(config):
    for s in services(config):
        assert re.fullmatch(r"/[a-z]+", s.path), s.name
        assert s.location == s.path + "/"


def test_api_is_private_unless_configured():
    assert "api" not in {s.name for s in public_services(WorkbenchConfig())}
    assert "api" in {s.name for s in public_services(WorkbenchConfig(penguin_api_public=True))}


def test_penguins_app_follows_its_switch():
    assert "penguins" not in {s.name for s in services(WorkbenchConfig(penguins_app=False))}


def test_every_websocket_service_has_a_long_read_timeout():
    for s in services(WorkbenchConfig(penguin_api_public=True)):
        if s.websockets:
            assert s.long_timeout, f"{s.name}: websockets idle for hours; 60 s would cut them"


def test_hosts_are_passed_as_the_browser_sent_them():
    """JupyterHub and RStudio compare Host with Origin: the port must survive the proxy."""
    for name in ("jupyterhub", "rstudio"):
        assert service(WorkbenchConfig(), name).host_header == "$http_host", name


def test_jupyterhub_internal_ports_are_named():
    assert service(WorkbenchConfig(), "jupyterhub").default_ports() == {
        "jupyterhub": 8000,
        "jupyterhub.hub": 8081,
        "jupyterhub.proxy-api": 8001,
    }


def test_unknown_service_is_a_key_error():
    with pytest.raises(KeyError):
        service(WorkbenchConfig(), "shiny")


def test_tls_facts_come_from_the_registry():
    from workbench.services import HTTPS_PORT, certificate_names, expiry_warning_days

    assert HTTPS_PORT == 443
    assert certificate_names(WorkbenchConfig(), address="203.0.113.10") == ()
    assert certificate_names(WorkbenchConfig(https="ip"), address="203.0.113.10") == (
        "203.0.113.10",
    )
    domain = WorkbenchConfig(https="workbench.example.org")
    assert certificate_names(domain, address="203.0.113.10") == ("workbench.example.org",)
    # Short-lived (160 h) and 90-day certificates: the doctor's warning thresholds.
    assert (expiry_warning_days(160 / 24), expiry_warning_days(90)) == (2, 14)
