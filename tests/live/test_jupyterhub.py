"""JupyterHub 6 behind NGINX at /jupyter: login, spawn, a kernel and its websocket."""

from __future__ import annotations

import time

import pytest
import requests

from tests.live.helpers import cookie_header, websocket_handshake


@pytest.fixture(scope="module")
def hub_session(workbench):
    """A browser-like session: logged in, the user's server spawned and authorized (OAuth)."""
    wb, base = workbench.wb, workbench.url("/jupyter")
    session = requests.Session()
    assert session.get(f"{base}/hub/login", timeout=10).status_code == 200
    login = session.post(
        f"{base}/hub/login",
        data={"username": wb.user, "password": wb.password, "_xsrf": session.cookies["_xsrf"]},
        allow_redirects=False,
        timeout=10,
    )
    assert login.status_code == 302, f"login refused ({login.status_code}): allowed_users?"
    session.get(f"{base}/hub/spawn", timeout=30)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        user = session.get(f"{base}/hub/api/users/{wb.user}", timeout=10).json()
        if user.get("servers", {}).get("", {}).get("ready"):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the server of {wb.user} was not ready in 120 s: {user}")
    return session


def test_the_workbench_user_logs_in_and_gets_a_server(workbench, hub_session):
    """JupyterHub 5+ lets nobody in without allow_all or allowed_users (hub_session logs in)."""
    assert "jupyterhub-hub-login" in {c.name for c in hub_session.cookies}
    user = hub_session.get(workbench.url(f"/jupyter/hub/api/users/{workbench.wb.user}"), timeout=10)
    assert user.json()["admin"] is True


@pytest.mark.parametrize("who", ["wrong-password", "other-user"])
def test_only_the_workbench_user_with_its_password_gets_in(workbench, who):
    base = workbench.url("/jupyter")
    session = requests.Session()
    session.get(f"{base}/hub/login", timeout=10)
    wrong = session.post(
        f"{base}/hub/login",
        data={
            "username": "intruder" if who == "other-user" else workbench.wb.user,
            "password": workbench.wb.password if who == "other-user" else "wrong",
            "_xsrf": session.cookies["_xsrf"],
        },
        allow_redirects=False,
        timeout=10,
    )
    assert wrong.status_code == 403


def test_spawned_server_opens_jupyterlab_under_the_prefix(workbench, hub_session):
    lab = hub_session.get(workbench.url(f"/jupyter/user/{workbench.wb.user}/lab"), timeout=30)
    assert lab.status_code == 200
    assert lab.url.endswith(f"/jupyter/user/{workbench.wb.user}/lab")


def test_kernel_websocket_upgrades_through_nginx(workbench, hub_session):
    user_base = workbench.url(f"/jupyter/user/{workbench.wb.user}")
    hub_session.get(f"{user_base}/lab", timeout=30)  # sets the server's _xsrf cookie
    xsrf = hub_session.cookies.get("_xsrf", path=f"/jupyter/user/{workbench.wb.user}/")
    kernel = hub_session.post(
        f"{user_base}/api/kernels", json={}, headers={"X-XSRFToken": xsrf}, timeout=30
    )
    assert kernel.status_code == 201, kernel.text
    status, headers = websocket_handshake(
        f"{user_base}/api/kernels/{kernel.json()['id']}/channels",
        cookies=cookie_header(hub_session),
    )
    assert status == 101, headers
