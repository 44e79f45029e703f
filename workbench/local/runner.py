"""Run the workbench's processes on loopback: the live tests, `make local` and `doctor` tests.

Two layers, both plain Python:
- `Supervisor` starts processes (each in its own process group, output to `<logs>/<name>.log`),
  waits until each answers HTTP, and stops them all: SIGTERM to the group, then SIGKILL, then
  any descendant that left the group (JupyterHub's spawned servers start their own session).
  Errors name the service and its log. Use it as a context manager.
- `start_workbench` renders a bundle for a loopback `Target` (free ports, each user's own
  password checked against a file of salted hashes) and starts NGINX, configurable-http-proxy
  and JupyterHub, the model API and the penguins app from it: the same rendered files as the
  instance. `restart_hub` re-renders it for a new config and restarts JupyterHub alone, as a
  change of users does on the instance.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from workbench.config import SHARED_FOLDER, WorkbenchConfig
from workbench.render import Target, port_map, proxy_args, render_bundle
from workbench.services import Service, services
from workbench.toolchain import NODE_BIN, PYTHON_BIN, tool_env

if TYPE_CHECKING:
    from workbench.local.acme import Pebble

CHP = NODE_BIN / "configurable-http-proxy"
STOP_GRACE = 10.0
"""Seconds between SIGTERM and SIGKILL: JupyterHub stops its users' servers in that time."""


class RunnerError(RuntimeError):
    """A process that would not start or answer; the message names it and its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True, kw_only=True)
class ProcessSpec:
    name: str
    argv: Sequence[str]
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Added to (or replacing) the supervisor's environment."""
    ready_url: str | None = None
    """Ready once a GET answers below 400 (redirects not followed); None: ready when started."""
    ready_headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Sent with that GET (an API token, where only an authorized request gets a 200)."""
    ready_cafile: Path | None = None
    """The CA that GET trusts, for an https ready_url (Pebble's self-signed listener); None:
    the system's."""
    ready_timeout: float = 60.0


@dataclass
class _Running:
    spec: ProcessSpec
    process: subprocess.Popen
    log: Path


def _proc_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may contain spaces): state, ..., start time (22).
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]  # a zombie has ended


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of every live descendant of `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        start = _proc_start_time(child)
        if start is not None:
            found.append((child, start))
        todo.extend(children.get(child, []))
    return found


def _http_status(
    url: str,
    timeout: float = 2.0,
    headers: Mapping[str, str] | None = None,
    cafile: Path | None = None,
) -> int | None:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    handlers: list[urllib.request.BaseHandler] = [NoRedirect()]
    if cafile is not None:
        context = ssl.create_default_context(cafile=str(cafile))
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    try:
        request = urllib.request.Request(url, headers=dict(headers or {}))
        with opener.open(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


class Supervisor:
    """Starts named processes, waits for them and stops them all on exit."""

    def __init__(self, log_dir: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ if env is None else env)
        self._running: dict[str, _Running] = {}
        # Processes a restart left running on purpose (a user's server outlives its hub): they
        # belong to no running process any more, and stop_all ends them.
        self._kept: list[tuple[int, str]] = []

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def tail(self, name: str, lines: int = 15) -> str:
        try:
            text = self.log(name).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self, spec: ProcessSpec, *, wait: bool = True) -> None:
        if spec.name in self._running:
            raise RunnerError(f"{spec.name}: already running")
        log = self.log(spec.name)
        with log.open("ab") as out:
            process = subprocess.Popen(
                list(spec.argv),
                cwd=spec.cwd,
                env=self.env | dict(spec.env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as one
            )
        self._running[spec.name] = _Running(spec, process, log)
        if wait:
            self.wait_ready(spec.name)

    def wait_ready(self, name: str) -> None:
        running = self._running[name]
        spec = running.spec
        if spec.ready_url is None:
            return
        deadline = time.monotonic() + spec.ready_timeout
        status = None
        while time.monotonic() < deadline:
            code = running.process.poll()
            if code is not None:
                raise RunnerError(
                    f"{name} exited with code {code} before answering {spec.ready_url}; "
                    f"see {running.log}:\n{self.tail(name)}"
                )
            status = _http_status(
                spec.ready_url, headers=spec.ready_headers, cafile=spec.ready_cafile
            )
            if status is not None and status < 400:
                return
            time.sleep(0.1)
        got = "no answer" if status is None else f"HTTP {status}"
        raise RunnerError(
            f"{name} did not answer {spec.ready_url} within {spec.ready_timeout:.0f} s "
            f"(last: {got}); see {running.log}:\n{self.tail(name)}"
        )

    def is_running(self, name: str) -> bool:
        running = self._running.get(name)
        return running is not None and running.process.poll() is None

    def stop(self, name: str) -> None:
        running = self._running.pop(name, None)
        if running is None:
            return
        strays = descendants(running.process.pid)
        self._end_group(running.process)
        # Whatever outlived its parent in its own session (after a grace period to exit).
        _end(strays)

    def restart(self, name: str) -> None:
        """Stop `name`'s process group and start it again; what it started in sessions of its
        own keeps running (as a user's server, a systemd unit of its own on the instance,
        outlives a restart of the hub) until stop_all."""
        running = self._running.pop(name)
        before = descendants(running.process.pid)
        self._end_group(running.process)
        self._kept += [(pid, start) for pid, start in before if _proc_start_time(pid) == start]
        self.start(running.spec)

    @staticmethod
    def _end_group(process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # Reap the group's other members, if still there.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for name in reversed(list(self._running)):
            self.stop(name)
        _end(self._kept)
        self._kept = []


def _end(processes: list[tuple[int, str]]) -> None:
    """SIGTERM each (pid, start time) still alive, SIGKILL after a grace period."""
    deadline = time.monotonic() + STOP_GRACE
    for pid, start in processes:
        while _proc_start_time(pid) == start and time.monotonic() < deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            time.sleep(0.1)
        if _proc_start_time(pid) == start:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------------------------
# The workbench on loopback


@dataclass(frozen=True, kw_only=True)
class LocalWorkbench:
    config: WorkbenchConfig
    target: Target
    bundle: Path
    url: str
    """NGINX's base URL, e.g. http://127.0.0.1:43117 or, with HTTPS on, https://127.0.0.1:43118
    (no trailing slash)."""
    ports: Mapping[str, int]
    logins: Mapping[str, str]
    """Each user's password (JupyterHub checks it against the target's login file of hashes)."""
    proxy_token: str
    """configurable-http-proxy's API token, shared by the hub and the proxy (their environment)."""
    http_url: str = ""
    """NGINX's port 80 stand-in (with HTTPS on it only redirects and answers challenges)."""
    ca_file: Path | None = None
    """With HTTPS on: the root that issued the certificate (a local Pebble's), for clients."""

    @property
    def user(self) -> str:
        """The first user (the one login of the default config)."""
        return self.config.users[0]

    @property
    def password(self) -> str:
        return self.logins[self.user]


SCRYPT = {"n": 2**14, "r": 8, "p": 1}
"""scrypt's cost parameters for the login file (16 MiB and tens of milliseconds a sign-in)."""


def write_login_file(path: Path, logins: Mapping[str, str]) -> None:
    """Each user's salted scrypt hash, for the local authenticator (the rendered
    jupyterhub_config.py): a file of mode 0600 that holds no password."""
    entries = {}
    for user, password in logins.items():
        salt = os.urandom(16)
        digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
        entries[user] = {"salt": salt.hex(), "hash": digest.hex(), **SCRYPT}
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path.with_suffix(".new"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(entries, file)
    os.replace(path.with_suffix(".new"), path)


def loopback_target(
    config: WorkbenchConfig,
    workdir: Path,
    *,
    listen_port: int | None = None,
    unavailable: Mapping[str, str] | None = None,
    https_port: int | None = None,
    ports: Mapping[str, int] | None = None,
    acme_ca_bundle: Path | None = None,
    cull_timeout_seconds: int | None = None,
) -> Target:
    """A Target for this machine: every port free now (NGINX on `listen_port` and, with HTTPS,
    `https_port` if given; upstreams on `ports` if given), state under `workdir`."""
    names = [name for s in services(config) for name in s.port_names()]
    runtime = workdir / "nginx"
    tls_state = workdir / "tls"
    return Target(
        listen=f"127.0.0.1:{listen_port or free_port()}",
        https_listen=f"127.0.0.1:{https_port or free_port()}",
        # The config NGINX runs: the pre-certificate one first, then tls.sh's deploy hook
        # installs the full one, as on the instance.
        nginx_conf=str(runtime / "nginx.conf"),
        tls_dir=str(tls_state / "letsencrypt"),
        tls_state=str(tls_state),
        tls_logs=str(tls_state / "logs"),
        certbot=str(PYTHON_BIN / "certbot"),
        tls_address="127.0.0.1",
        acme_ca_bundle=str(acme_ca_bundle) if acme_ca_bundle else None,
        unavailable=dict(unavailable or {}),
        ports=dict(ports) if ports else {name: free_port() for name in names},
        root=str(workdir / "bundle"),
        nginx_runtime=str(runtime),
        # Workers of a root NGINX run as `nginx_user`: they must read the bundle (often in a
        # private temporary directory).
        nginx_user="root" if os.geteuid() == 0 else None,
        authenticator="local",
        login_file=str(workdir / "logins.json"),
        cull_timeout_seconds=cull_timeout_seconds,
        jupyterhub_state=str(workdir / "jupyterhub"),
        jupyterhub_bin=str(PYTHON_BIN),
        ssh_host="localhost",
    )


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        raise RunnerError("nginx: not installed (make system installs the Debian package)")
    return found


class CertificateError(RunnerError):
    """tls.sh obtain failed; the message is its one line (certbot's reason)."""


def run_tls(wb: LocalWorkbench, action: str, *, env: Mapping[str, str] | None = None) -> str:
    """`tls.sh <action>` from the bundle, as provision.sh's tls step runs it; its output. `env`
    overrides tls.env's parameters (tests)."""
    done = subprocess.run(
        ["bash", str(wb.bundle / "tls.sh"), action],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise CertificateError(lines[-1] if lines else f"tls.sh {action} exited {done.returncode}")
    return done.stdout


def start_nginx(supervisor: Supervisor, conf: Path, target: Target) -> None:
    """`nginx -t` on a rendered config, then NGINX in the foreground under `supervisor`, ready
    once its landing page answers. `target` must have an `nginx_runtime` directory."""
    nginx, runtime = nginx_binary(), str(target.nginx_runtime)
    check = subprocess.run(
        [nginx, "-t", "-q", "-c", str(conf), "-p", runtime, "-e", "stderr"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        raise RunnerError(f"nginx: nginx -t rejected {conf}: {check.stderr.strip()}")
    argv = [nginx, "-c", str(conf), "-p", runtime, "-e", "stderr", "-g", "daemon off;"]
    supervisor.start(ProcessSpec(name="nginx", argv=argv, ready_url=f"http://{target.listen}/"))


def _health_url(service: Service, port: int) -> str:
    prefix = "" if service.strip_prefix else service.path
    return f"http://127.0.0.1:{port}{prefix}{service.health_path}"


PROXY = "jupyterhub-proxy"
"""configurable-http-proxy's process: it starts with JupyterHub, first, and apart from it."""


def _specs(wb: LocalWorkbench, workdir: Path) -> dict[str, ProcessSpec]:
    """How each locally runnable service starts from the bundle, by service name (JupyterHub's
    proxy by the name PROXY)."""
    python = sys.executable
    by_name = {s.name: s for s in services(wb.config)}
    specs: dict[str, ProcessSpec] = {}
    if "jupyterhub" in by_name:
        # configurable-http-proxy (`env node`) on the project's Node; jupyterhub-singleuser
        # from the venv.
        env = {"PATH": tool_env()["PATH"], "CONFIGPROXY_AUTH_TOKEN": wb.proxy_token}
        specs[PROXY] = ProcessSpec(
            name=PROXY,
            argv=[str(CHP), *proxy_args(wb.config, wb.target)],
            env=env,
            ready_url=f"http://127.0.0.1:{wb.ports['jupyterhub.proxy-api']}/api/routes",
            ready_headers={"Authorization": f"token {wb.proxy_token}"},
        )
        specs["jupyterhub"] = ProcessSpec(
            name="jupyterhub",
            argv=[str(PYTHON_BIN / "jupyterhub"), "-f", str(wb.bundle / "jupyterhub_config.py")],
            cwd=Path(wb.target.jupyterhub_state),
            env=env,
            ready_url=_health_url(by_name["jupyterhub"], wb.ports["jupyterhub"]),
        )
    if "api" in by_name:
        api = by_name["api"]
        argv = [python, "-m", "uvicorn", "app:app", "--app-dir", str(wb.bundle / "penguin-api")]
        argv += ["--host", "127.0.0.1", "--port", str(wb.ports["api"])]
        if api.public and api.root_path_arg:
            argv += ["--root-path", api.path]
        specs["api"] = ProcessSpec(
            name="api",
            argv=argv,
            env={"PENGUIN_MODEL_DIR": str(workdir / "model")},
            ready_url=_health_url(api, wb.ports["api"]),
        )
    if "penguins" in by_name:
        specs["penguins"] = ProcessSpec(
            name="penguins",
            argv=[
                python,
                "-m",
                "shiny",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(wb.ports["penguins"]),
                "app.py",
            ],
            cwd=wb.bundle / "penguins-app",
            ready_url=_health_url(by_name["penguins"], wb.ports["penguins"]),
        )
    return specs


def _train_model(supervisor: Supervisor, bundle: Path, model_dir: Path) -> None:
    log = supervisor.log("api-train")
    with log.open("ab") as out:
        result = subprocess.run(
            [sys.executable, str(bundle / "penguin-api" / "train.py"), str(model_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=supervisor.env,
            check=False,
        )
    if result.returncode != 0:
        raise RunnerError(
            f"api: training the model failed (exit {result.returncode}); see {log}:\n"
            f"{supervisor.tail('api-train')}"
        )


class Password(str):
    """A password whose repr never shows it: a failing test prints the reprs of its values."""

    def __repr__(self) -> str:
        return "Password('***')"


def _logins(config: WorkbenchConfig, known: Mapping[str, str] | None) -> dict[str, str]:
    """A password for every user: the known one, else a new one."""
    known = dict(known or {})
    return {user: Password(known.get(user) or secrets.token_urlsafe(16)) for user in config.users}


def _prepare_homes(config: WorkbenchConfig, target: Target) -> None:
    """Each user's directory with the team's shared folder linked into it, as provision.sh's
    users step lays out /home on the instance (where the link points at /home/shared)."""
    homes = Path(target.jupyterhub_state) / "home"
    shared = homes / SHARED_FOLDER
    shared.mkdir(parents=True, exist_ok=True)
    for user in config.users:
        link = homes / user / SHARED_FOLDER
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(shared)


def start_workbench(
    config: WorkbenchConfig,
    workdir: Path,
    supervisor: Supervisor,
    *,
    only: Sequence[str] | None = None,
    passwords: Mapping[str, str] | None = None,
    listen_port: int | None = None,
    unavailable: Mapping[str, str] | None = None,
    https_port: int | None = None,
    ports: Mapping[str, int] | None = None,
    pebble: Pebble | None = None,
    cull_timeout_seconds: int | None = None,
) -> LocalWorkbench:
    """Render a loopback bundle under `workdir` and start it under `supervisor`.

    `only` names the services to start (default: every one that runs here, i.e. not RStudio);
    NGINX always starts, on `listen_port` (default: a free one). `unavailable` names services
    that cannot run here, with the reason the landing page gives. Services not started answer
    through NGINX with their 502 page.

    With HTTPS on, `pebble` (acme.start_pebble) is the ACME server: its directory becomes the
    config's acme_server, certbot trusts its listener, NGINX listens on the port it validates
    challenges on (its http_port), and its root is the CA file. NGINX starts with the
    pre-certificate config and `tls.sh obtain` gets the certificate through it, as provision.sh
    does (a certificate left in `workdir` by an earlier run, from another Pebble, goes first).
    `ports` points NGINX at upstreams that already run (another workbench's services).
    `passwords`: each user's (default: generated).
    `cull_timeout_seconds`: the idle culler's timeout, instead of the config's minutes.
    """
    workdir = Path(workdir)
    if config.https_on != (pebble is not None):
        raise ValueError("start_workbench: a pebble with HTTPS on, and only then")
    if pebble is not None:
        if listen_port not in (None, pebble.http_port):
            raise ValueError(f"listen_port {listen_port}: Pebble validates on {pebble.http_port}")
        listen_port = pebble.http_port
        config = dataclasses.replace(config, acme_server=pebble.directory)
    target = loopback_target(
        config,
        workdir,
        listen_port=listen_port,
        unavailable=unavailable,
        https_port=https_port,
        ports=ports,
        acme_ca_bundle=pebble.listener_ca if pebble else None,
        cull_timeout_seconds=cull_timeout_seconds,
    )
    bundle = render_bundle(config, workdir / "bundle", target=target)
    for directory in (target.nginx_runtime, target.jupyterhub_state):
        Path(directory).mkdir(parents=True, exist_ok=True)
    http_url = f"http://{target.listen}"
    wb = LocalWorkbench(
        config=config,
        target=target,
        bundle=bundle,
        url=f"https://{target.https_listen}" if config.https_on else http_url,
        http_url=http_url,
        ports=port_map(config, target),
        ca_file=pebble.root if pebble else None,
        logins=_logins(config, passwords),
        proxy_token=secrets.token_hex(32),
    )
    write_login_file(Path(target.login_file), wb.logins)
    _prepare_homes(config, target)
    specs = _specs(wb, workdir)
    runnable = [name for name in specs if name != PROXY]
    wanted = runnable if only is None else list(only)
    unknown = [name for name in wanted if name not in runnable]
    if unknown:
        raise RunnerError(
            f"only: got {unknown[0]!r}; expected services that run here: {', '.join(runnable)}"
        )
    if config.https_on:
        shutil.rmtree(target.tls_state, ignore_errors=True)
        Path(target.tls_state).mkdir(parents=True)
        conf = Path(target.nginx_conf)
        shutil.copyfile(bundle / "nginx-acme.conf", conf)
        start_nginx(supervisor, conf, target)
        # certbot answers the challenge through the running NGINX; its deploy hook switches
        # NGINX to the full config.
        run_tls(wb, "obtain")
    else:
        start_nginx(supervisor, bundle / "nginx.conf", target)
    if "api" in wanted:
        _train_model(supervisor, bundle, workdir / "model")
    if "jupyterhub" in wanted:
        # The hub's first request is to its proxy's API.
        supervisor.start(specs[PROXY])
    # Start everything, then wait: the slow starters (JupyterHub, the API's imports) overlap.
    for name in wanted:
        supervisor.start(specs[name], wait=False)
    for name in wanted:
        supervisor.wait_ready(name)
    return wb


def restart_hub(
    wb: LocalWorkbench, supervisor: Supervisor, config: WorkbenchConfig
) -> LocalWorkbench:
    """What a change of users does on the instance: the bundle rendered for the new config (same
    target: ports, state, login file), new users given a password, and JupyterHub restarted
    alone. The proxy, NGINX and the users' servers keep running."""
    logins = _logins(config, wb.logins)
    render_bundle(config, wb.bundle, target=wb.target)
    write_login_file(Path(wb.target.login_file), logins)
    _prepare_homes(config, wb.target)
    supervisor.restart("jupyterhub")
    return dataclasses.replace(wb, config=config, logins=logins)
