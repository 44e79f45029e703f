"""Through real NGINX: the landing page, the bare-path redirects, private and stopped upstreams."""

from __future__ import annotations

import requests

from tests.live.helpers import service_links
from workbench.services import public_services


def test_landing_page_lists_exactly_the_enabled_public_services(workbench, public_api):
    for live in (workbench, public_api):
        page = requests.get(live.url("/"), timeout=10)
        assert page.status_code == 200
        expected = [s.location for s in public_services(live.wb.config)]
        assert service_links(page.text) == expected, live.wb.config


def test_bare_paths_redirect_to_the_trailing_slash(workbench):
    for s in public_services(workbench.wb.config):
        answer = requests.get(workbench.url(s.path), allow_redirects=False, timeout=10)
        assert (answer.status_code, answer.headers.get("Location")) == (301, s.location), s.path


def test_jupyterhub_login_page_answers_under_the_prefix(workbench):
    answer = requests.get(workbench.url("/jupyter/hub/login"), timeout=10)
    assert answer.status_code == 200
    assert 'action="/jupyter/hub/login' in answer.text


def test_private_api_is_not_on_the_proxy(workbench):
    for path in ("/api/", "/api/predict", "/api/docs", "/api"):
        answer = requests.get(workbench.url(path), allow_redirects=False, timeout=10)
        assert answer.status_code == 404, path


def test_nginx_does_not_show_its_version(workbench):
    assert requests.get(workbench.url("/"), timeout=10).headers["Server"] == "nginx"


def test_an_upstream_that_never_started_gets_its_friendly_502(public_api):
    # public_api runs only NGINX and the API: RStudio and JupyterHub are down.
    for path, title, unit in (
        ("/rstudio/", "RStudio Server", "rstudio-server"),
        ("/jupyter/hub/login", "JupyterHub", "jupyterhub"),
    ):
        answer = requests.get(public_api.url(path), timeout=10)
        assert answer.status_code == 502, path
        assert f"{title} is not answering" in answer.text, path
        assert f"sudo systemctl status {unit}" in answer.text, path
