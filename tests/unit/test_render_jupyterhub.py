"""The rendered jupyterhub_config.py, executed as JupyterHub executes it, as policy."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from workbench.config import LOGIN_USER, WorkbenchConfig
from workbench.render import Target, TargetError, render_bundle


def load(tmp_path, target: Target | None = None) -> Config:
    bundle = render_bundle(WorkbenchConfig(), tmp_path / "bundle", target=target or Target())
    config = Config()
    source = (bundle / "jupyterhub_config.py").read_text()
    exec(compile(source, "jupyterhub_config.py", "exec"), {"get_config": lambda: config})
    return config


LOCAL = Target(
    authenticator="dummy",
    login_password="p'ass\"word",
    ports={"jupyterhub": 18000, "jupyterhub.hub": 18081, "jupyterhub.proxy-api": 18001},
    jupyterhub_state="/tmp/state",
    jupyterhub_bin="/venv/bin",
    chp_command="/repo/node_modules/.bin/configurable-http-proxy",
)


def test_instance_hub_binds_loopback_under_the_prefix(tmp_path):
    c = load(tmp_path)
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000/jupyter"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:8081"
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8001"
    assert c.Spawner.default_url == "/lab"


def test_instance_logs_in_the_workbench_user_with_pam(tmp_path):
    c = load(tmp_path)
    assert c.JupyterHub.authenticator_class == "pam"
    assert c.JupyterHub.spawner_class == "localprocess"
    assert c.Spawner.cmd == ["/opt/jupyterhub/venv/bin/jupyterhub-singleuser"]
    assert "DummyAuthenticator" not in c


@pytest.mark.parametrize("target", [Target(), LOCAL], ids=["instance", "local"])
def test_someone_is_allowed_in(tmp_path, target):
    """JupyterHub 5+: without allow_all or allowed_users nobody can log in."""
    c = load(tmp_path, target)
    assert c.Authenticator.allow_all is False
    assert c.Authenticator.allowed_users == {LOGIN_USER}
    assert c.Authenticator.admin_users == {LOGIN_USER}


def test_local_target_moves_ports_state_and_logins(tmp_path):
    c = load(tmp_path, LOCAL)
    assert c.JupyterHub.bind_url == "http://127.0.0.1:18000/jupyter"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:18081"
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:18001"
    assert c.ConfigurableHTTPProxy.command == ["/repo/node_modules/.bin/configurable-http-proxy"]
    assert c.JupyterHub.db_url == "sqlite:////tmp/state/jupyterhub.sqlite"
    assert c.JupyterHub.authenticator_class == "dummy"
    assert c.DummyAuthenticator.password == "p'ass\"word"
    assert c.JupyterHub.spawner_class == "simple"
    assert "--allow-root" in c.Spawner.args


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"authenticator": "ldap"}, "authenticator: got 'ldap'; expected one of pam, dummy"),
        (
            {"authenticator": "dummy"},
            "login_password: got None; expected a non-empty password with the dummy authenticator",
        ),
        (
            {"login_password": "x"},
            "login_password: got a password; expected None with the pam authenticator "
            "(the password never goes into a rendered file)",
        ),
        ({"ports": {"api": 0}}, "ports['api']: got 0; expected a port from 1 to 65535"),
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
