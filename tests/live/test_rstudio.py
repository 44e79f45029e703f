"""RStudio (the stand-in) behind NGINX at /rstudio: root path, Host, redirects, sign-in, ws."""

from __future__ import annotations

import requests

from tests.live.helpers import cookie_header, websocket_handshake


def seen(workbench) -> list[dict]:
    port = workbench.wb.ports["rstudio"]
    return requests.get(f"http://127.0.0.1:{port}/__standin/requests", timeout=10).json()


def test_rstudio_sees_its_prefix_stripped_and_its_root_path(workbench):
    answer = requests.get(workbench.url("/rstudio/"), allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    request = seen(workbench)[-1]
    assert request["path"] == "/"
    assert request["headers"]["X-RStudio-Root-Path"] == "/rstudio"
    # The Host the browser used, port included: what RStudio builds its redirects from.
    assert request["headers"]["Host"] == workbench.wb.target.listen


def test_rstudio_redirect_keeps_the_prefix_and_the_port(workbench):
    answer = requests.get(workbench.url("/rstudio/"), allow_redirects=False, timeout=10)
    assert answer.headers["Location"] == workbench.url("/rstudio/auth-sign-in?appUri=%2F")


def sign_in(workbench, origin: str) -> requests.Session:
    session = requests.Session()
    page = session.get(workbench.url("/rstudio/"), timeout=10)  # follows to the sign-in page
    assert page.status_code == 200 and "Sign In" in page.text
    signed = session.post(
        workbench.url("/rstudio/auth-do-sign-in"),
        data={
            "rs-csrf-token": session.cookies["rs-csrf-token"],
            "appUri": "/",
            "username": workbench.wb.user,
            "password": workbench.wb.password,
        },
        headers={"Origin": origin},
        timeout=10,
    )
    session.final = signed  # type: ignore[attr-defined]
    return session


def test_sign_in_through_the_proxy_lands_in_rstudio(workbench):
    session = sign_in(workbench, origin=workbench.wb.url)
    assert session.final.url == workbench.url("/rstudio/")
    assert "signed in" in session.final.text


def test_websocket_upgrades_after_sign_in(workbench):
    session = sign_in(workbench, origin=workbench.wb.url)
    status, headers = websocket_handshake(
        workbench.url("/rstudio/p/4242/websocket/"), cookies=cookie_header(session)
    )
    assert status == 101, headers


def test_the_standin_catches_a_host_that_lost_its_port(workbench):
    """What `Host $host` does on a non-default port: the sign-in loops back (the check can fail)."""
    session = sign_in(workbench, origin="http://127.0.0.1")
    assert "auth-sign-in" in session.final.url and "error=2" in session.final.url
