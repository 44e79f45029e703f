"""The instance's own files, parsed back: systemd units, rserver.conf, shiny-server.conf, pins.

Rules: every service listens on loopback only, on the registry's port; each unit runs what
provision.sh installs (the sandbox run proves the paths exist); what the instance installs is
pinned, and the Node it installs satisfies every engine range in configurable-http-proxy's lock.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import crossplane
import pytest

from tests.unit.provision_sandbox import pins
from workbench.config import TEAM_GROUP, WorkbenchConfig
from workbench.render import ASSETS, INSTANCE, Target, proxy_args, render_bundle
from workbench.services import service, services

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = {
    "default": WorkbenchConfig(),
    "api-public": WorkbenchConfig(penguin_api_public=True),
    "no-penguins": WorkbenchConfig(penguins_app=False),
    "team": WorkbenchConfig(
        users=("alice", "bob"),
        admins=("alice",),
        user_memory_gb=1.5,
        user_cpus=0.5,
        idle_cull_minutes=0,
    ),
}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("instance")
    return {name: render_bundle(config, base / name) for name, config in CONFIGS.items()}


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [values]}}: keys may repeat, unlike in configparser."""
    unit: dict[str, dict[str, list[str]]] = {}
    section = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert section is not None and sep, f"line {number} is not `key=value` in a section: {raw}"
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def parse_key_values(text: str) -> dict[str, str]:
    result = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"not key=value: {line}"
            assert key not in result, f"{key} set twice"
            result[key.strip()] = value.strip()
    return result


def exec_start(unit: dict) -> list[str]:
    (command,) = unit["Service"]["ExecStart"]
    return command.split()


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


# --- systemd units ----------------------------------------------------------------------------


def test_each_unit_provision_installs_is_named_as_the_registry_says(bundles):
    for name, bundle in bundles.items():
        shipped = {p.stem for p in (bundle / "systemd").glob("*.service")}
        hub = service(CONFIGS[name], "jupyterhub").unit
        assert shipped == {hub, f"{hub}-proxy", "penguin-api"}, name
        assert service(CONFIGS[name], "api").unit == "penguin-api"


def test_the_api_unit_serves_on_loopback_at_the_registry_port(bundles):
    for name, bundle in bundles.items():
        api = service(CONFIGS[name], "api")
        unit = parse_unit((bundle / "systemd/penguin-api.service").read_text())
        argv = exec_start(unit)
        assert argv[0].endswith("/venv/bin/uvicorn"), name
        assert option(argv, "--host") == "127.0.0.1", f"{name}: loopback only"
        assert option(argv, "--port") == str(api.port), name
        expected_root = api.path if api.public else None
        assert option(argv, "--root-path") == expected_root, f"{name}: --root-path iff public"
        assert unit["Service"]["User"] == [api.unit], f"{name}: a dedicated system user"
        assert unit["Service"]["User"] != ["root"]
        assert unit["Service"]["NoNewPrivileges"] == ["yes"], name
        assert unit["Install"]["WantedBy"] == ["multi-user.target"], f"{name}: starts at boot"


def test_the_jupyterhub_unit_runs_the_installed_config_after_its_proxy(bundles):
    unit = parse_unit((bundles["default"] / "systemd/jupyterhub.service").read_text())
    argv = exec_start(unit)
    assert argv[0] == "/opt/jupyterhub/venv/bin/jupyterhub"
    assert option(argv, "--config") == "/etc/jupyterhub/jupyterhub_config.py"
    (path,) = [v for v in unit["Service"]["Environment"] if v.startswith("PATH=")]
    entries = path.removeprefix("PATH=").split(":")
    assert entries[0] == "/opt/jupyterhub/venv/bin", "jupyterhub-singleuser for spawned servers"
    assert "/usr/bin" in entries, "systemd-run and systemctl, for SystemdSpawner"
    assert unit["Service"]["StateDirectory"] == ["jupyterhub"], "cookie secret kept across deploys"
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    # A restart of the proxy restarts the hub (which gives it back its routes), not the reverse.
    assert unit["Unit"]["Requires"] == ["jupyterhub-proxy.service"]
    assert "jupyterhub-proxy.service" in unit["Unit"]["After"][0].split()
    assert "KillMode" not in unit["Service"], "its own cgroup: the servers are units of their own"


def test_the_proxy_runs_in_a_unit_of_its_own_with_jupyterhubs_arguments(bundles):
    for name, bundle in bundles.items():
        proxy = parse_unit((bundle / "systemd/jupyterhub-proxy.service").read_text())
        hub = parse_unit((bundle / "systemd/jupyterhub.service").read_text())
        argv = exec_start(proxy)
        assert argv[0] == "/opt/jupyterhub/chp/node_modules/.bin/configurable-http-proxy"
        assert argv[1:] == proxy_args(CONFIGS[name]), name
        assert option(argv, "--ip") == "127.0.0.1" and option(argv, "--api-ip") == "127.0.0.1"
        (path,) = [v for v in proxy["Service"]["Environment"] if v.startswith("PATH=")]
        assert "/opt/node/bin" in path.removeprefix("PATH=").split(":"), "node for its script"
        assert proxy["Service"]["DynamicUser"] == ["yes"], "no root, no account of its own"
        # One API token, made on the instance, shared through the environment.
        assert proxy["Service"]["EnvironmentFile"] == hub["Service"]["EnvironmentFile"]
        assert proxy["Service"]["EnvironmentFile"] == ["/etc/jupyterhub/proxy.env"]
        assert proxy["Service"]["Restart"] == ["always"]


def test_systemd_accepts_the_unit_systemdspawner_makes_for_a_user(bundles, tmp_path, monkeypatch):
    """SystemdSpawner (the real one, with the rendered config) starts each server with
    systemd-run; its properties, written as a unit file, pass systemd's own checker. Only its
    calls to systemd-run and systemctl, and the user's lookup, are caught here: this machine has
    no systemd as PID 1 and no user alice."""
    import asyncio
    import pwd

    from systemdspawner import systemd, systemdspawner
    from traitlets.config import Config

    config = Config()
    source = (bundles["team"] / "jupyterhub_config.py").read_text()
    exec(compile(source, "jupyterhub_config.py", "exec"), {"get_config": lambda: config})
    started: dict = {}

    async def start_transient_service(unit_name, **kwargs):
        started.update(kwargs, unit_name=unit_name)

    async def not_running(unit_name):
        return False

    monkeypatch.setattr(systemd, "start_transient_service", start_transient_service)
    monkeypatch.setattr(systemd, "service_running", not_running)
    monkeypatch.setattr(systemd, "service_failed", not_running)
    monkeypatch.setattr(systemd, "get_systemd_version", lambda: 255)
    alice = pwd.struct_passwd(("alice", "x", 1001, 1001, "", "/home/alice", "/bin/bash"))
    monkeypatch.setattr(systemdspawner.pwd, "getpwnam", lambda name: alice)

    class User:
        name, id, url, escaped_name = "alice", 1, "/jupyter/user/alice/", "alice"

    class Probe(systemdspawner.SystemdSpawner):
        # The hub's environment and arguments for a server: not what is tested here.
        def get_env(self):
            return {"JUPYTERHUB_API_TOKEN": "token"}

        def get_args(self):
            return ["--port=8888"]

        async def poll(self):
            return None

    spawner = Probe(config=config, user=User())
    asyncio.run(spawner.start())
    properties = started["properties"]
    assert properties["MemoryMax"] == 1610612736, "user_memory_gb=1.5"
    assert properties["CPUQuota"] == "50%", "user_cpus=0.5"
    assert properties["PrivateTmp"] == "yes" and "NoNewPrivileges" not in properties
    assert started["unit_name"] == "jupyter-alice-singleuser"
    assert started["working_dir"] == "/home/alice" and started["uid"] == 1001
    # As systemd-run gets them: a list is one --property per value.
    lines = [
        f"{key}={value}"
        for key, values in properties.items()
        for value in (values if isinstance(values, list) else [values])
    ]
    lines += [f"WorkingDirectory={started['working_dir']}", f"User={started['uid']}"]
    lines += [f"Group={started['gid']}", "ExecStart=" + " ".join(started["cmd"] + started["args"])]
    unit = tmp_path / "jupyter-alice-singleuser.service"
    unit.write_text("[Service]\n" + "\n".join(lines) + "\n")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    for line in (done.stdout + done.stderr).splitlines():
        assert re.fullmatch(r"[\w.-]+: Command \S+ is not executable: .*", line), line


def test_systemd_accepts_the_units(bundles, tmp_path):
    """systemd's own checker: unknown keys and bad values are errors. The programs do not exist
    on this machine; the sandbox run proves provision.sh creates them."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "make system installs systemd-analyze (Debian package systemd)"
    for name, bundle in bundles.items():
        units = sorted((bundle / "systemd").glob("*.service"))
        done = subprocess.run(
            [analyze, "verify", "--man=no", *map(str, units)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        programs = {exec_start(parse_unit(u.read_text()))[0] for u in units}
        for line in (done.stdout + done.stderr).splitlines():
            missing = re.fullmatch(r"[\w.-]+: Command (\S+) is not executable: .*", line)
            assert missing and missing.group(1) in programs, f"{name}: systemd says: {line}"


# --- RStudio Server and Shiny Server -----------------------------------------------------------


def test_rstudio_listens_on_loopback_at_the_registry_port(bundles):
    settings = parse_key_values((bundles["default"] / "rserver.conf").read_text())
    rstudio = service(CONFIGS["default"], "rstudio")
    assert settings["www-address"] == "127.0.0.1"
    assert settings["www-port"] == str(rstudio.port)
    assert int(settings["auth-minimum-user-id"]) == 1000, "the users sign in by PAM"
    assert settings["auth-required-user-group"] == TEAM_GROUP, "the team only (not ubuntu)"


def test_rstudio_does_not_change_with_the_users(bundles):
    # A change of users must not restart RStudio Server: nothing it reads names them.
    for conf in ("rserver.conf", "rsession.conf"):
        assert (bundles["default"] / conf).read_text() == (bundles["api-public"] / conf).read_text()
    # rsession.conf follows the team's idle_cull_minutes (tested below), not its users.
    rserver = (bundles["default"] / "rserver.conf").read_text()
    assert (bundles["team"] / "rserver.conf").read_text() == rserver


@pytest.mark.parametrize(("minutes", "timeout"), [(60, "60"), (0, "0"), (1, "1")])
def test_idle_r_sessions_are_suspended_after_idle_cull_minutes(tmp_path, minutes, timeout):
    bundle = render_bundle(WorkbenchConfig(idle_cull_minutes=minutes), tmp_path)
    settings = parse_key_values((bundle / "rsession.conf").read_text())
    assert settings == {"session-timeout-minutes": timeout}


def test_rstudio_port_follows_the_render_target(tmp_path):
    bundle = render_bundle(WorkbenchConfig(), tmp_path, target=Target(ports={"rstudio": 18787}))
    assert parse_key_values((bundle / "rserver.conf").read_text())["www-port"] == "18787"


def shiny_directives(path: Path) -> list[dict]:
    parsed = crossplane.parse(str(path), single=True, check_ctx=False, check_args=False)
    assert parsed["status"] == "ok", parsed["errors"]
    return parsed["config"][0]["parsed"]


def test_shiny_server_listens_on_loopback_and_runs_the_app_with_its_venv(bundles):
    penguins = service(CONFIGS["default"], "penguins")
    top = shiny_directives(bundles["default"] / "shiny-server.conf")
    by_name = {d["directive"]: d for d in top}
    assert by_name["run_as"]["args"] == ["shiny"], "apps never run as root"
    assert by_name["python"]["args"] == ["/opt/penguins-app/venv/bin/python"]
    (server,) = [d for d in top if d["directive"] == "server"]
    inner = {d["directive"]: d for d in server["block"]}
    assert inner["listen"]["args"] == [str(penguins.port), "127.0.0.1"], "loopback only"
    (location,) = [d for d in server["block"] if d["directive"] == "location"]
    assert location["args"] == ["/"], "NGINX strips /penguins: the app is at the root"
    settings = {d["directive"]: d["args"] for d in location["block"]}
    assert settings["app_dir"] == ["/opt/penguins-app/app"]
    assert settings["directory_index"] == ["off"]


def test_without_the_penguins_app_shiny_server_has_no_config(bundles):
    text = (bundles["no-penguins"] / "shiny-server.conf").read_text()
    assert "penguins_app is false" in text
    assert not [d for d in shiny_directives(bundles["no-penguins"] / "shiny-server.conf")]


def test_every_service_provision_starts_is_in_the_registry(bundles):
    script = (bundles["default"] / "provision.sh").read_text()
    started = set(re.findall(r"^\s*run_service (\S+)$", script, re.M))
    # JupyterHub and its proxy start together, each restarted for its own changes only.
    (hub, proxy) = re.search(r'local hub="(\S+)" proxy="(\S+)"', script).groups()
    assert started | {hub} == {s.unit for s in services(CONFIGS["default"])}
    assert proxy == f"{hub}-proxy" and (bundles["default"] / f"systemd/{proxy}.service").exists()


def test_nginx_accepts_the_instance_config_with_the_command_provision_runs(bundles):
    """provision.sh runs `nginx -t -q -c <bundle>/nginx.conf` (the pre-certificate
    nginx-acme.conf before a first certificate) before installing it."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "make system installs nginx (Debian package)"
    script = (bundles["default"] / "provision.sh").read_text()
    assert 'local src="$BUNDLE/nginx.conf"' in script and 'nginx -t -q -c "$src"' in script
    assert INSTANCE.listen == "80"
    for name, bundle in bundles.items():
        done = subprocess.run(
            [nginx, "-t", "-q", "-c", str(bundle / "nginx.conf")],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, f"{name}: {done.stderr}"


# --- pins ------------------------------------------------------------------------------------


def _satisfies(version: tuple[int, ...], spec: str) -> bool:
    """npm engine ranges of the forms found in the lock: `>=a.b.c`, `>= a`, `^a`, `*`, `||`."""
    for alternative in spec.split("||"):
        alternative = alternative.strip()
        if alternative == "*":
            return True
        match = re.fullmatch(r"(>=|\^)\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", alternative)
        assert match, f"engine range {spec!r}: teach _satisfies this form"
        operator, *parts = match.groups()
        bound = tuple(int(p or 0) for p in parts)
        if operator == ">=" and version >= bound:
            return True
        if operator == "^" and version[0] == bound[0] and version >= bound:
            return True
    return False


def test_the_pinned_node_runs_every_package_configurable_http_proxy_installs(bundles):
    node = tuple(
        int(p)
        for p in pins((bundles["default"] / "provision.sh").read_text())["NODE_VERSION"].split(".")
    )
    lock = json.loads((ASSETS / "jupyterhub/chp/package-lock.json").read_text())
    packages = {k: v for k, v in lock["packages"].items() if k}
    assert len(packages) > 10, "the lock holds the whole dependency tree"
    for name, package in packages.items():
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/=]+", package["integrity"]), name
        engine = package.get("engines", {}).get("node")
        if engine:
            assert _satisfies(node, engine), f"{name} needs node {engine}; we pin {node}"
    assert not _satisfies((20, 20, 2), packages["node_modules/commander"]["engines"]["node"]), (
        "the check can fail: commander 15 refuses Node 20"
    )


def test_configurable_http_proxy_is_pinned_exactly(bundles):
    manifest = json.loads((ASSETS / "jupyterhub/chp/package.json").read_text())
    lock = json.loads((ASSETS / "jupyterhub/chp/package-lock.json").read_text())
    wanted = manifest["dependencies"]["configurable-http-proxy"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", wanted), "an exact version, not a range"
    assert lock["packages"]["node_modules/configurable-http-proxy"]["version"] == wanted
    assert lock["packages"][""]["dependencies"] == manifest["dependencies"], "lock is current"


def test_jupyterhub_packages_are_pinned_exactly():
    lines = [
        line
        for line in (ASSETS / "jupyterhub/requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {line.split("==")[0] for line in lines} == {
        "jupyterhub",
        "jupyterlab",
        "jupyterhub-systemdspawner",
        "jupyterhub-idle-culler",
    }
    for line in lines:
        assert re.fullmatch(r"[a-z0-9-]+==\d+(\.\d+)+", line), line


def test_the_readme_lists_what_the_instance_installs(bundles):
    readme = (ROOT / "README.md").read_text()
    found = pins((bundles["default"] / "provision.sh").read_text())
    chp = json.loads((ASSETS / "jupyterhub/chp/package.json").read_text())["dependencies"]
    wanted = [
        found["NODE_VERSION"],
        found["R_VERSION"],
        found["RSTUDIO_URL"].rsplit("/", 1)[1].removeprefix("rstudio-server-").split("-amd64")[0],
        found["SHINY_URL"].rsplit("/", 1)[1].removeprefix("shiny-server-").split("-amd64")[0],
        chp["configurable-http-proxy"],
        *(
            line.split("==")[1]
            for line in (ASSETS / "jupyterhub/requirements.txt").read_text().splitlines()
            if "==" in line
        ),
    ]
    for version in wanted:
        assert version in readme, f"README's 'What the instance runs' should name {version}"
