"""provision.sh's users step for a team, in the sandbox (tests/unit/provision_sandbox.py): accounts,
passwords, the shared folder, admins, locking a removed user, and what a change of users
restarts. Modes, owners and groups of homes and of the shared folder are the real ones, in the
scratch root (chmod, chgrp, stat); useradd, gpasswd, usermod, chpasswd and the like are stubs
that keep /etc/passwd, /etc/group and /etc/shadow there.

Not proven here: that shadow's tools, PAM (an expired, locked account refused), setfacl's ACL
and systemd behave on Ubuntu as the stubs do. That needs an EC2 instance (`make deploy`).
"""

from __future__ import annotations

import hashlib
import os

import pytest

from tests.unit.provision_sandbox import Run, Sandbox
from workbench.config import SHARED_FOLDER, TEAM_GROUP, WorkbenchConfig

TEAM = WorkbenchConfig(users=("alice", "bob"), admins=("alice",))
SHARED = f"/home/{SHARED_FOLDER}"


def ok(run: Run) -> Run:
    assert run.returncode == 0, run.output
    return run


def provision(sandbox: Sandbox, config: WorkbenchConfig) -> Run:
    sandbox.render(config)
    return ok(sandbox.run())


@pytest.fixture(scope="module")
def team(tmp_path_factory) -> tuple[Sandbox, Run]:
    """One first run for alice (admin) and bob, shared by the tests that only read it; under
    `bash -x`, which traces every command but the users step's."""
    sandbox = Sandbox(tmp_path_factory.mktemp("team"))
    sandbox.render(TEAM)
    return sandbox, ok(sandbox.run(xtrace=True))


def mode(path) -> int:
    return os.lstat(path).st_mode & 0o7777


def test_each_user_is_a_regular_account_with_a_private_home_on_the_volume(team):
    sandbox, _ = team
    home = sandbox.root / "home"
    assert sandbox.mounts() == [(str(sandbox.device), str(home))], "/home on its volume"
    uids = {user: sandbox.uid(user) for user in TEAM.users}
    assert all(uid >= 1000 for uid in uids.values()) and len(set(uids.values())) == 2
    for user, uid in uids.items():
        stat = os.stat(home / user)
        assert (stat.st_uid, stat.st_gid) == (uid, uid), f"{user} owns their home"
        # useradd's 0755 (older Ubuntus' HOME_MODE) tightened: others read no one's home.
        assert mode(home / user) & 0o027 == 0, f"{user}'s home is {oct(mode(home / user))}"


def test_the_team_shares_a_setgid_group_writable_folder_linked_into_each_home(team):
    sandbox, run = team
    gid, members = sandbox.group(TEAM_GROUP)
    assert sorted(members) == ["alice", "bob"]
    shared = sandbox.root / SHARED.lstrip("/")
    stat = os.stat(shared)
    assert (stat.st_uid, stat.st_gid) == (0, gid), "root's, the team's group"
    assert mode(shared) == 0o2770, "setgid, the team reads and writes, others nothing"
    # Whatever anyone creates there stays the team's to edit, whatever their umask.
    (call,) = run.called("setfacl")
    assert call[-2:] == ["default:user::rwx,default:group::rwx,default:other::---", str(shared)]
    for user in TEAM.users:
        link = sandbox.root / "home" / user / SHARED_FOLDER
        assert os.readlink(link) == SHARED, "the instance's path, as JupyterLab and RStudio follow"


def test_admins_are_in_sudo_and_nobody_else(team):
    sandbox, _ = team
    _, sudoers = sandbox.group("sudo")
    assert sorted(sudoers) == ["alice", "ubuntu"], "ubuntu: the AMI's own, for SSH"


def test_each_user_gets_the_password_of_their_own_secret_and_nothing_else_sees_it(team):
    sandbox, run = team
    reads = run.called("aws", "secretsmanager", "get-secret-value")
    assert [c[c.index("--secret-id") + 1] for c in reads] == [
        "Workbench/users/alice/password",
        "Workbench/users/bob/password",
    ], "each user's secret, read once"
    shadow = sandbox.shadow()
    for user in TEAM.users:
        line = f"{user}:{sandbox.password(TEAM, user)}"
        assert shadow[user] == hashlib.sha256(line.encode()).hexdigest(), f"{user}'s own"
    token = (sandbox.root / "etc/jupyterhub/proxy.env").read_text().split("=", 1)[1].strip()
    for secret in (sandbox.secret, token):
        assert secret not in run.output and secret not in run.log
        assert not [c for c in run.calls if any(secret in a for a in c)], "never an argument"
        assert not [p for p in run.puts if secret in p.body], "never in a signal"
    for path in sandbox.root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.name != "proxy.env":
            assert sandbox.secret.encode() not in path.read_bytes(), path
            assert token.encode() not in path.read_bytes(), path


def test_team_changes_over_time(tmp_path):
    """One machine through a team's life: from a version before teams (its one login,
    `workbench`, with a password and no list of users), to a team, then a user added, one
    removed (locked, home kept), a password changed with passwd, a demoted admin, a removed user
    back. Each run restarts no service but JupyterHub (its config names the users) and never
    RStudio Server."""
    sandbox = Sandbox(tmp_path)
    with (sandbox.root / "etc/passwd").open("a") as passwd:
        passwd.write("workbench:x:1001:1001::/home/workbench:/bin/bash\n")
    with (sandbox.root / "etc/group").open("a") as group:
        group.write("workbench:x:1001:\n")
    (sandbox.root / "etc/shadow").write_text("workbench:set-before-teams\n")
    run = provision(sandbox, TEAM)
    assert run.called("usermod", "--lock", "--expiredate", "1", "workbench"), "not in the team"
    assert sandbox.shadow()["workbench"] == "!set-before-teams"
    notes = sandbox.root / "home/bob/notes.txt"
    notes.write_text("bob's work\n")
    # alice changes her password with passwd (the stub's shadow holds a hash).
    shadow = sandbox.root / "etc/shadow"
    shadow.write_text(shadow.read_text().replace("alice:", "alice:changed-with-passwd-", 1))

    # carol joins; her home is on the volume already (restored from a snapshot, say), with the
    # uid she had: the new account takes it, so that her files stay hers.
    carols = sandbox.root / "home/carol"
    carols.mkdir()
    (carols / "thesis.tex").write_text("carol's\n")
    os.chown(carols, 1042, 1042)
    os.chown(carols / "thesis.tex", 1042, 1042)
    run = provision(sandbox, WorkbenchConfig(users=("alice", "bob", "carol"), admins=("alice",)))
    assert restarted(run) == {"jupyterhub"}, "the hub only: not the proxy, not RStudio"
    assert len(run.called("useradd")) == 1 and len(run.called("chpasswd")) == 1
    assert sandbox.uid("carol") == 1042 and os.stat(carols / "thesis.tex").st_uid == 1042
    assert "carol" in sandbox.group(TEAM_GROUP)[1]
    assert sandbox.shadow()["alice"].startswith("changed-with-passwd-"), "passwd's change kept"

    # bob leaves; alice is no longer an admin.
    run = provision(sandbox, WorkbenchConfig(users=("alice", "carol")))
    assert restarted(run) == {"jupyterhub"}
    assert run.called("usermod", "--lock", "--expiredate", "1", "bob")
    assert sandbox.expired("bob") and sandbox.shadow()["bob"].startswith("!"), "locked"
    assert "bob" not in sandbox.group(TEAM_GROUP)[1], "out of the shared folder and RStudio"
    assert sorted(sandbox.group("sudo")[1]) == ["ubuntu"], "alice demoted, bob out"
    assert run.called("systemctl", "stop", "jupyter-bob-singleuser"), "his server stopped"
    assert run.called("pkill", "--uid", "bob"), "his other sessions ended"
    assert notes.read_text() == "bob's work\n", "never deleted: his home stays"
    assert not run.called("userdel") and not run.called("chpasswd")
    assert sandbox.uid("bob") >= 1000

    # The same users, another idle timeout: no one locked twice, R's new timeout for new
    # sessions (RStudio Server itself untouched).
    again = provision(sandbox, WorkbenchConfig(users=("alice", "carol"), idle_cull_minutes=30))
    assert not again.called("usermod") and not again.called("pkill")
    assert "[users] done; nothing to change" in again.log
    rsession = (sandbox.root / "etc/rstudio/rsession.conf").read_text()
    assert "session-timeout-minutes=30\n" in rsession
    assert restarted(again) == {"jupyterhub"}, "the culler's timeout; RStudio reads it per session"

    # bob comes back: unlocked, with the password of his (new) secret; his files as he left them.
    run = provision(sandbox, WorkbenchConfig(users=("alice", "bob", "carol")))
    assert run.called("usermod", "--expiredate", "", "bob")
    assert not sandbox.expired("bob")
    line = f"bob:{sandbox.password(TEAM, 'bob')}"
    assert sandbox.shadow()["bob"] == hashlib.sha256(line.encode()).hexdigest()
    assert "bob" in sandbox.group(TEAM_GROUP)[1] and notes.exists()
    assert not run.called("useradd"), "the same account, the same uid"


def restarted(run: Run) -> set[str]:
    return {unit for call in run.called("systemctl", "restart") for unit in call[2:]}
