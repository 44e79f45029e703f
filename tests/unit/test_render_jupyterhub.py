"""The rendered jupyterhub_config.py, executed as JupyterHub executes it, as policy."""

from __future__ import annotations

import json
import sys

import pytest
from jupyterhub.traitlets import ByteSpecification
from traitlets.config import Config

from workbench.config import WorkbenchConfig
from workbench.idle import WEBSOCKET_PING_S
from workbench.render import Target, TargetError, culling, proxy_args, render_bundle

TEAM = WorkbenchConfig(users=("alice", "bob"), admins=("alice",))


def load(tmp_path, target: Target | None = None, config: WorkbenchConfig = TEAM) -> Config:
    bundle = render_bundle(config, tmp_path / "bundle", target=target or Target())
    return execute((bundle / "jupyterhub_config.py").read_text())


def execute(source: str) -> Config:
    config = Config()
    namespace = {"get_config": lambda: config}
    exec(compile(source, "jupyterhub_config.py", "exec"), namespace)
    config._namespace = namespace  # what the file defined (the local authenticator's class)
    return config


LOCAL = Target(
    authenticator="local",
    login_file="/tmp/state/logins.json",
    ports={"jupyterhub": 18000, "jupyterhub.hub": 18081, "jupyterhub.proxy-api": 18001},
    jupyterhub_state="/tmp/state",
    jupyterhub_bin="/venv/bin",
)


def test_instance_hub_binds_loopback_under_the_prefix(tmp_path):
    c = load(tmp_path)
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000/jupyter"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:8081"
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8001"
    assert c.Spawner.default_url == "/lab"


def test_instance_signs_users_in_with_pam_and_spawns_with_systemd(tmp_path):
    c = load(tmp_path)
    from jupyterhub.auth import PAMAuthenticator

    assert issubclass(c.JupyterHub.authenticator_class, PAMAuthenticator)
    assert c.JupyterHub.spawner_class == "systemd"
    assert c.Spawner.cmd == ["/opt/jupyterhub/venv/bin/jupyterhub-singleuser"]
    assert c.SystemdSpawner.isolate_tmp is True
    assert c.SystemdSpawner.disable_user_sudo is False, "admins use sudo in their terminal"
    assert "LoginFileAuthenticator" not in c._namespace


def test_the_spawner_name_is_systemdspawners_entry_point(tmp_path):
    from importlib.metadata import entry_points

    (spawner,) = [e for e in entry_points(group="jupyterhub.spawners") if e.name == "systemd"]
    assert spawner.value == "systemdspawner:SystemdSpawner"


@pytest.mark.parametrize("target", [Target(), LOCAL], ids=["instance", "local"])
def test_the_team_is_allowed_in_and_nobody_else(tmp_path, target):
    """JupyterHub 5+: without allow_all or allowed_users nobody can sign in."""
    c = load(tmp_path, target)
    assert c.Authenticator.allow_all is False
    assert c.Authenticator.allowed_users == {"alice", "bob"}
    assert c.Authenticator.admin_users == {"alice"}
    assert "allow_named_servers" not in c.JupyterHub, "one server per user (the default)"
    # JupyterHub 5 lets in whoever its database holds unless told otherwise: a removed user too.
    assert c.Authenticator.allow_existing_users is False
    assert c.Authenticator.refresh_pre_spawn is True


@pytest.mark.parametrize("target", [Target(), LOCAL], ids=["instance", "local"])
def test_a_removed_users_session_ends_at_their_next_request(tmp_path, target):
    import asyncio

    c = load(tmp_path, target)
    authenticator = c.JupyterHub.authenticator_class(config=c)

    class User:
        def __init__(self, name):
            self.name = name

    assert asyncio.run(authenticator.refresh_user(User("alice"))) is True
    assert asyncio.run(authenticator.refresh_user(User("mallory"))) is False


def test_the_one_user_of_the_default_config_is_admin(tmp_path):
    c = load(tmp_path, config=WorkbenchConfig())
    assert c.Authenticator.allowed_users == {"workbench"}
    assert c.Authenticator.admin_users == {"workbench"}


def test_a_hub_restart_leaves_the_proxy_and_the_servers_running(tmp_path):
    for target in (Target(), LOCAL):
        c = load(tmp_path, target)
        assert c.ConfigurableHTTPProxy.should_start is False, "the proxy runs apart from the hub"
        assert c.JupyterHub.cleanup_servers is False
        assert c.JupyterHub.cleanup_proxy is False
        assert "auth_token" not in c.ConfigurableHTTPProxy, "from the environment, not the file"


def test_the_proxy_gets_jupyterhubs_own_arguments():
    args = proxy_args(TEAM, LOCAL)
    assert args == [
        *("--ip", "127.0.0.1", "--port", "18000", "--api-ip", "127.0.0.1", "--api-port", "18001"),
        *("--error-target", "http://127.0.0.1:18081/jupyter/hub/error", "--log-level", "info"),
    ]


def culler(c: Config) -> tuple[dict, dict]:
    (service,) = c.JupyterHub.services
    (role,) = [r for r in c.JupyterHub.load_roles if r["name"] == service["name"]]
    return service, role


def option(command: list[str], name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in command if a.startswith(f"--{name}=")]
    return value


def test_the_idle_culler_is_a_service_with_the_scopes_it_needs(tmp_path):
    c = load(tmp_path)
    service, role = culler(c)
    assert service["command"][:2] == [sys.executable, "-c"]
    program = service["command"][2]
    assert program.endswith("from jupyterhub_idle_culler import main; main()")
    # The first look waits for the restarted hub's first collection of activity.
    delay = float(program.split("time.sleep(")[1].split(")")[0])
    assert delay > c.JupyterHub.last_activity_interval
    assert set(role["scopes"]) == {
        "list:users",
        "read:users:activity",
        "read:servers",
        "delete:servers",
    }, "JupyterHub 5's scopes for the culler; admin:users only with --cull-users"
    assert role["services"] == [service["name"]]
    assert "--cull-users" not in " ".join(service["command"])


@pytest.mark.parametrize("minutes", [1, 5, 60, 10080])
def test_the_culls_timeout_exceeds_the_activity_interval_and_the_ping(tmp_path, minutes):
    c = load(tmp_path, config=WorkbenchConfig(idle_cull_minutes=minutes))
    service, _ = culler(c)
    timeout = int(option(service["command"], "timeout"))
    assert timeout == minutes * 60
    interval = c.JupyterHub.last_activity_interval
    assert c.Spawner.environment["JUPYTERHUB_ACTIVITY_INTERVAL"] == str(interval)
    assert interval + WEBSOCKET_PING_S < timeout, "JupyterHub's activity lags by interval + ping"
    assert culling(WorkbenchConfig(idle_cull_minutes=minutes)).activity_lag_seconds < timeout
    assert 1 <= int(option(service["command"], "cull-every")) <= 60


def test_culling_off_means_no_culler(tmp_path):
    c = load(tmp_path, config=WorkbenchConfig(idle_cull_minutes=0))
    assert "services" not in c.JupyterHub
    assert c.JupyterHub.load_roles == []
    assert "last_activity_interval" not in c.JupyterHub, "JupyterHub's default"


def test_a_target_can_cull_within_seconds(tmp_path):
    c = load(tmp_path, Target(cull_timeout_seconds=6))
    service, _ = culler(c)
    assert option(service["command"], "timeout") == "6"
    assert c.JupyterHub.last_activity_interval == 2
    assert option(service["command"], "cull-every") == "1"


@pytest.mark.parametrize(
    ("memory", "cpus", "bytes_", "cpu"),
    [(None, None, None, None), (1.5, 0.5, 1610612736, 0.5), (4, 2, 4 * 1024**3, 2.0)],
)
def test_per_user_limits_are_systemdspawners(tmp_path, memory, cpus, bytes_, cpu):
    c = load(tmp_path, config=WorkbenchConfig(user_memory_gb=memory, user_cpus=cpus))
    if bytes_ is None:
        assert "mem_limit" not in c.SystemdSpawner and "cpu_limit" not in c.SystemdSpawner
        return
    # As JupyterHub reads it: the trait's own parser.
    assert ByteSpecification().validate(None, c.SystemdSpawner.mem_limit) == bytes_
    assert c.SystemdSpawner.cpu_limit == cpu


def test_local_target_moves_ports_state_and_sign_in(tmp_path):
    c = load(tmp_path, LOCAL)
    assert c.JupyterHub.bind_url == "http://127.0.0.1:18000/jupyter"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:18081"
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:18001"
    assert c.JupyterHub.db_url == "sqlite:////tmp/state/jupyterhub.sqlite"
    assert c.JupyterHub.authenticator_class is c._namespace["LoginFileAuthenticator"]
    assert c.JupyterHub.spawner_class == "simple"
    assert c.SimpleLocalProcessSpawner.home_dir_template == "/tmp/state/home/{username}"
    assert "--allow-root" in c.Spawner.args


def test_the_local_authenticator_checks_each_users_own_password(tmp_path):
    import asyncio

    from workbench.local.runner import write_login_file

    logins = tmp_path / "logins.json"
    write_login_file(logins, {"alice": "alice-pw", "bob": "bob-pw"})
    assert logins.stat().st_mode & 0o777 == 0o600
    assert "alice-pw" not in logins.read_text() and "bob-pw" not in logins.read_text()
    assert (
        json.loads(logins.read_text())["alice"]["salt"]
        != json.loads(logins.read_text())["bob"]["salt"]
    ), "a salt per user"
    c = load(tmp_path, Target(authenticator="local", login_file=str(logins)))
    authenticator = c.JupyterHub.authenticator_class(config=c)

    def sign_in(user, password):
        data = {"username": user, "password": password}
        return asyncio.run(authenticator.authenticate(None, data))

    assert sign_in("alice", "alice-pw") == "alice"
    assert sign_in("bob", "bob-pw") == "bob"
    assert sign_in("alice", "bob-pw") is None, "each user's own password"
    assert sign_in("carol", "alice-pw") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"authenticator": "dummy"}, "authenticator: got 'dummy'; expected one of pam, local"),
        (
            {"authenticator": "local"},
            "login_file: got None; expected the path of the users' password hashes with the "
            "local authenticator",
        ),
        (
            {"login_file": "/x"},
            "login_file: got '/x'; expected None with the pam authenticator (PAM checks the "
            "Linux passwords)",
        ),
        (
            {"cull_timeout_seconds": 1},
            "cull_timeout_seconds: got 1; expected None or a whole number of seconds from 3",
        ),
        ({"ports": {"api": 0}}, "ports['api']: got 0; expected a port from 1 to 65535"),
        ({"listen": "127.0.0.1:"}, "listen: got '127.0.0.1:'; expected PORT or ADDRESS:PORT"),
    ],
)
def test_bad_targets_are_refused_in_one_line(kwargs, message):
    with pytest.raises(TargetError) as error:
        Target(**kwargs)
    assert str(error.value) == message


def test_unknown_port_names_are_refused_before_anything_is_written(tmp_path):
    dest = tmp_path / "bundle"
    with pytest.raises(TargetError, match=r"ports: got unknown name 'jupyter'; expected names"):
        render_bundle(WorkbenchConfig(), dest, target=Target(ports={"jupyter": 9000}))
    assert not dest.exists()
