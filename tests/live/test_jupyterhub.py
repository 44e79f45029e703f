"""JupyterHub 6 behind real NGINX at /jupyter, for a team: sign-in with each user's own password,
a server per user that nobody else opens, the admin page, idle culling, and a hub restart (a
change of users) that every running server outlives.

One hub for the module (servers take seconds to spawn), with the culler's timeout in seconds.
The tests build on each other in order: bob and carol get servers; bob's is kept busy through
the proxy from then on, carol's is left idle until the culler stops it; then the hub restarts
with carol removed and dave added, under bob's running kernel.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

from tests.live.helpers import cookie_header, wait_for, websocket_handshake
from workbench.config import WorkbenchConfig
from workbench.local.runner import LocalWorkbench, Supervisor, restart_hub, start_workbench
from workbench.render import culling

TEAM = WorkbenchConfig(users=("alice", "bob", "carol"), admins=("alice",))
# After the restart: carol removed, dave added.
CHANGED = WorkbenchConfig(users=("alice", "bob", "dave"), admins=("alice",))
CULL_TIMEOUT = 8
"""Seconds: JupyterHub collects activity every second and the culler looks every second
(workbench/idle.py derives both from the timeout). Longer than a spawn takes on a busy machine:
a server's last activity is its start, and the hub sees it ready only later (4 s later under
load, once), so a shorter timeout culls carol's server the moment it is ready."""


class Keeper(threading.Thread):
    """A user at work: a request to their server through NGINX twice a second, each counted."""

    def __init__(self, session: requests.Session, url: str) -> None:
        super().__init__(daemon=True)
        self.session, self.url = session, url
        self.done = threading.Event()
        self.answers: list[int | str] = []

    def run(self) -> None:
        while not self.done.wait(0.5):
            try:
                self.answers.append(self.session.get(self.url, timeout=5).status_code)
            except requests.RequestException as error:
                self.answers.append(type(error).__name__)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=10)


@dataclass
class Team:
    wb: LocalWorkbench
    supervisor: Supervisor
    sessions: dict[str, requests.Session] = field(default_factory=dict)
    keepers: dict[str, Keeper] = field(default_factory=dict)
    carol_last_seen: float = 0.0

    @property
    def base(self) -> str:
        return self.wb.url + "/jupyter"


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("team")
    with Supervisor(workdir / "logs") as supervisor:
        wb = start_workbench(
            TEAM, workdir, supervisor, only=["jupyterhub"], cull_timeout_seconds=CULL_TIMEOUT
        )
        state = Team(wb, supervisor)
        try:
            yield state
        finally:
            for keeper in state.keepers.values():
                keeper.stop()


def sign_in(base: str, user: str, password: str) -> tuple[int, requests.Session]:
    """Sign in as a browser does: the login form, its _xsrf cookie, the POST."""
    session = requests.Session()
    assert session.get(f"{base}/hub/login", timeout=10).status_code == 200
    answer = session.post(
        f"{base}/hub/login",
        data={"username": user, "password": password, "_xsrf": session.cookies["_xsrf"]},
        allow_redirects=False,
        timeout=10,
    )
    return answer.status_code, session


def server(team: Team, user: str) -> dict | None:
    """The user's default server as the hub's API shows it to an admin (None: not running)."""
    answer = team.sessions["alice"].get(f"{team.base}/hub/api/users/{user}", timeout=10)
    return answer.json()["servers"].get("")


def test_each_user_signs_in_with_their_own_password_and_nobody_else(team):
    logins = team.wb.logins
    for user in TEAM.users:
        status, session = sign_in(team.base, user, logins[user])
        assert status == 302, f"{user} was refused ({status})"
        assert "jupyterhub-hub-login" in {c.name for c in session.cookies}
        team.sessions[user] = session
    assert sign_in(team.base, "bob", logins["alice"])[0] == 403, "only bob's own password"
    assert sign_in(team.base, "alice", "wrong")[0] == 403
    assert sign_in(team.base, "dave", logins["alice"])[0] == 403, "not a user (yet)"


def test_each_user_reaches_their_own_server_and_not_the_others(team):
    base = team.base
    for user in ("bob", "carol"):
        team.sessions[user].get(f"{base}/hub/spawn", timeout=30)
    for user in ("bob", "carol"):
        wait_for(lambda u=user: (server(team, u) or {}).get("ready"), 120, f"{user}'s server")
        session = team.sessions[user]
        # Through the hub's OAuth to the server's own cookie, then busy until told otherwise.
        lab = session.get(f"{base}/user/{user}/lab", timeout=30)
        assert lab.status_code == 200 and lab.url.endswith(f"/jupyter/user/{user}/lab")
        team.keepers[user] = Keeper(session, f"{base}/user/{user}/api/status")
        team.keepers[user].start()
    # The team's folder, as each home has it (a link), is a folder in JupyterLab's file browser.
    answer = team.sessions["bob"].get(f"{base}/user/bob/api/contents", timeout=10)
    assert answer.status_code == 200, answer.text[-3000:]
    listing = answer.json()
    shared = [entry["type"] for entry in listing["content"] if entry["name"] == "shared"]
    assert shared == ["directory"], listing["content"]
    # The hub's OAuth refuses a request for someone else's server.
    assert team.sessions["bob"].get(f"{base}/user/carol/lab", timeout=30).status_code == 403
    assert team.sessions["carol"].get(f"{base}/user/bob/lab", timeout=30).status_code == 403
    # JupyterHub's admin role opens every server (no config takes that away; see the README).
    assert team.sessions["alice"].get(f"{base}/user/bob/lab", timeout=30).status_code == 200
    # From now on carol is idle.
    team.keepers.pop("carol").stop()
    team.carol_last_seen = time.monotonic()


def test_an_admin_reaches_the_admin_page_and_a_non_admin_does_not(team):
    assert team.sessions["alice"].get(f"{team.base}/hub/admin", timeout=10).status_code == 200
    refused = team.sessions["bob"].get(f"{team.base}/hub/admin", timeout=10)
    assert refused.status_code == 403
    me = team.sessions["bob"].get(f"{team.base}/hub/api/user", timeout=10).json()
    assert me["admin"] is False


def test_the_culler_stops_the_idle_server_and_not_the_busy_one(team):
    # carol's stops within the timeout plus a few of its 1 s rounds; bob's, busy, never does.
    idle = wait_for(lambda: server(team, "carol") is None, CULL_TIMEOUT + 15, "carol culled")
    culled_after = time.monotonic() - team.carol_last_seen
    assert culled_after >= CULL_TIMEOUT, f"culled {culled_after:.1f} s after her last request"
    assert (server(team, "bob") or {}).get("ready"), "bob's busy server was culled"
    assert set(team.keepers["bob"].answers) == {200}
    print(f"\nculler: timeout {CULL_TIMEOUT} s, carol's server stopped {culled_after:.1f} s "
          f"after her last request ({idle:.1f} s of waiting)")  # fmt: skip


def test_a_hub_restart_with_new_users_keeps_the_running_servers_and_their_kernels(team):
    base, bob = team.base, team.sessions["bob"]
    user_base = f"{base}/user/bob"
    xsrf = bob.cookies.get("_xsrf", path="/jupyter/user/bob/")
    kernel = bob.post(
        f"{user_base}/api/kernels", json={}, headers={"X-XSRFToken": xsrf}, timeout=30
    )
    assert kernel.status_code == 201, kernel.text
    kernel_id = kernel.json()["id"]
    started = server(team, "bob")["started"]
    answers_before = len(team.keepers["bob"].answers)
    carol_password = team.wb.logins["carol"]

    began = time.monotonic()
    team.wb = restart_hub(team.wb, team.supervisor, CHANGED)
    took = time.monotonic() - began

    # The proxy never went away: bob's requests through NGINX went on being answered.
    during = team.keepers["bob"].answers[answers_before:]
    assert during and set(during) == {200}, during
    # The same server (started before the restart) and the same kernel, still usable.
    assert server(team, "bob")["started"] == started
    still = bob.get(f"{user_base}/api/kernels/{kernel_id}", timeout=10)
    assert still.status_code == 200 and still.json()["id"] == kernel_id
    status, headers = websocket_handshake(
        f"{user_base}/api/kernels/{kernel_id}/channels", cookies=cookie_header(bob)
    )
    assert status == 101, headers
    # The new list applies: dave gets in, carol's session ends at her next request.
    assert sign_in(base, "dave", team.wb.logins["dave"])[0] == 302
    assert sign_in(base, "carol", carol_password)[0] == 403
    assert team.sessions["carol"].get(f"{base}/hub/api/user", timeout=10).status_code == 403
    # The restarted culler's first rounds judge bob by fresh activity, not by the record of a
    # hub that was down (workbench/idle.py: the culler's start delay).
    timing = culling(CHANGED, team.wb.target)
    rounds = timing.start_delay_seconds + timing.every_seconds + 1
    time.sleep(max(0.0, rounds - (time.monotonic() - began - took)))
    assert (server(team, "bob") or {}).get("ready"), "bob's busy server was culled"
    assert "Culling server bob" not in team.supervisor.log("jupyterhub").read_text()
    print(f"\nhub restart with a new user list: {took:.1f} s; bob's kernel kept")
