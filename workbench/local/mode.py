"""`make local`: the whole workbench on one machine, with no AWS account.

1. an AWS emulator (moto's ThreadedMotoServer, in this process, seeded with what moto lacks);
2. the real CDK CLI bootstraps and deploys the real template into it (`--method=direct`);
3. the same rendered bundle the instance runs, on loopback: NGINX, JupyterHub, the model API and
   the penguins app (RStudio Server cannot be installed here);
4. one summary, with each user's login (the password from the emulator's Secrets Manager, as
   the instance reads it); then it stays in the foreground until Ctrl-C, and stops everything
   it started.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.local.emulator import REGION, images, register_missing_models, seed_ssm
from workbench.local.runner import free_port
from workbench.toolchain import NODE_BIN, tool_env

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORT = 8080
DEFAULT_HTTPS_PORT = 8443
ACCOUNT = "123456789012"  # moto's default account
LOCAL_UNAVAILABLE = (
    "{title} has no package for this machine, so local mode leaves it out; "
    "on AWS it answers at this same path."
)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class LocalError(Exception):
    """Why local mode cannot go on: one line, printed as `error: ...`."""


def check_port_free(port: int, variable: str = "LOCAL_PORT") -> None:
    with socket.socket() as sock:
        # As NGINX binds: connections of a run that just stopped (TIME_WAIT) do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise LocalError(
                    f"port {port} is busy: another program listens on 127.0.0.1:{port}; "
                    f"choose another with `make local {variable}=<port>`"
                ) from None
            raise


@dataclass
class Emulator:
    """moto as AWS, on a free loopback port, for the real CDK CLI and boto3."""

    port: int
    server: object

    @property
    def endpoint(self) -> str:
        # `localhost`, not 127.0.0.1: moto misreads the S3 template URL otherwise (proxy notes).
        return f"http://localhost:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment for a CLI that should talk to the emulator and nothing else."""
        # The venv's python3 for cdk.json's `python3 app.py`; the project's Node for the CLI, jsii.
        env = tool_env({k: v for k, v in os.environ.items() if not k.startswith("AWS_")})
        env.update(
            CREDENTIALS,
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_EC2_METADATA_DISABLED="true",
            CDK_DISABLE_CLI_TELEMETRY="true",
        )
        return env

    def client(self, service: str):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


@contextlib.contextmanager
def emulator() -> Iterator[Emulator]:
    from moto.server import ThreadedMotoServer

    # The werkzeug request log and moto's "no CloudFormation support" notes would bury the
    # summary; the CLI's own log (.local/logs/cdk.log) keeps the deploy's details.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="moto")
    register_missing_models()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    emu = Emulator(port=port, server=server)
    try:
        (ami,) = images(1)
        seed_ssm(ami, bootstrapped=False)
        yield emu
    finally:
        server.stop()


def _cdk(emu: Emulator, args: Sequence[str], log: Path) -> None:
    cdk = NODE_BIN / "cdk"
    if not cdk.exists():
        raise LocalError("the CDK CLI is not installed: run `make setup` (npm ci) first")
    with log.open("a") as out:
        out.write(f"$ cdk {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(
            [str(cdk), *args, "--no-notices"],
            cwd=ROOT,
            env=emu.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    if result.returncode != 0:
        reason = _last_error_line(log.read_text())
        raise LocalError(f"`cdk {args[0]}` failed: {reason} (log: {log})")


def _last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("❌", "error:", "Error", "ValidationError")) or "failed" in line:
            return line.lstrip("❌ ").strip()
    return lines[-1] if lines else "no output"


def deploy(emu: Emulator, state: Path, context: Sequence[str] = ()) -> dict[str, str]:
    """Synthesize, bootstrap and deploy the stack into the emulator with the real CLI; return its
    outputs."""
    log = state / "logs" / "cdk.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    outputs_file = state / "outputs.json"
    # Every CLI run writes in the state directory: the checkout's own cdk.out may be in use by
    # another CLI (`make synth`, a test), whose lock would stop this one.
    assembly = str(state / "cdk.out")
    extra = [arg for item in context for arg in ("-c", item)]
    # One synth: bootstrap and deploy read the cloud assembly it wrote (`--app DIR`); each would
    # otherwise run app.py again (bootstrap too, to list the app's environments), 4 s apiece.
    _cdk(emu, ["synth", "--quiet", "--output", assembly, *extra], log)
    _cdk(emu, ["bootstrap", f"aws://{ACCOUNT}/{REGION}", "--app", assembly], log)
    _cdk(
        emu,
        [
            "deploy",
            # Change-set deploys lose the outputs in moto (proxy notes).
            "--method=direct",
            "--require-approval=never",
            "--app",
            assembly,
            "--outputs-file",
            str(outputs_file),
        ],
        log,
    )
    (outputs,) = json.loads(outputs_file.read_text()).values()
    return outputs


def ingress_rules(emu: Emulator, group_id: str) -> list[tuple[str, str, str, str]]:
    """(protocol, ports, source, description) as the emulator's EC2 API reports them."""
    (group,) = emu.client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    rows = []
    for permission in group["IpPermissions"]:
        low, high = permission.get("FromPort"), permission.get("ToPort")
        ports = "all" if low is None else (str(low) if low == high else f"{low}-{high}")
        for ip_range in permission.get("IpRanges", []):
            rows.append(
                (
                    permission["IpProtocol"],
                    ports,
                    ip_range["CidrIp"],
                    ip_range.get("Description", ""),
                )
            )
    return sorted(rows, key=lambda row: (int(row[1]) if row[1].isdigit() else 0, row[2]))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    header = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    return "\n".join([header, "  ".join("-" * w for w in widths), *lines])


def say(message: str) -> None:
    print(message, flush=True)


def require_nginx() -> None:
    from workbench.local.runner import RunnerError, nginx_binary

    try:
        nginx_binary()
    except RunnerError as error:
        raise LocalError(str(error)) from None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C: the `finally` blocks stop everything that was started."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class Lock:
    """One `make local` at a time per checkout: a held flock, plus who holds it and where."""

    path: Path
    handle: object = None

    def acquire(self, info: dict) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            other = _read_json(handle.read())
            handle.close()
            where = other.get("url", "an unknown address")
            raise LocalError(
                f"make local is already running (pid {other.get('pid', '?')}) at {where}: "
                "use that one, or stop it with Ctrl-C in its terminal or `make local-down`"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(info))
        handle.flush()
        self.handle = handle

    def release(self) -> None:
        if self.handle is not None:
            self.handle.truncate(0)
            self.handle.close()
            self.handle = None


def _read_json(text: str) -> dict:
    try:
        return json.loads(text)
    except ValueError:
        return {}


def down(state: Path, timeout: float = 30.0) -> int:
    """Stop a `make local` left running (in the background or another terminal)."""
    import fcntl
    import time

    lock = state / "local.lock"
    info = _read_json(lock.read_text()) if lock.exists() else {}
    pid = info.get("pid")
    if not pid:
        say("make local is not running")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        say("make local is not running (stale lock removed)")
        lock.unlink(missing_ok=True)
        return 0
    deadline = time.monotonic() + timeout
    with lock.open() as handle:
        while time.monotonic() < deadline:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                say(f"stopped make local (pid {pid})")
                return 0
            except BlockingIOError:
                time.sleep(0.2)
    say(f"error: make local (pid {pid}) did not stop within {timeout:.0f} s")
    return 1


OUTPUT_ROWS = ("LandingUrl", "InstanceId", "SecurityGroupId", "PublicIp", "SshCommand")


def print_deployment(emu: Emulator, outputs: dict[str, str]) -> None:
    say("  stack outputs (from the emulator's CloudFormation):")
    rows = [(name, outputs[name]) for name in OUTPUT_ROWS if name in outputs]
    rows += [(k, v) for k, v in sorted(outputs.items()) if k not in OUTPUT_ROWS]
    say(_indent(table(("output", "value"), [(k, _clip(v)) for k, v in rows])))
    say(f"  security group {outputs['SecurityGroupId']} (from the emulator's EC2 API):")
    rules = ingress_rules(emu, outputs["SecurityGroupId"])
    say(_indent(table(("protocol", "port", "source"), [r[:3] for r in rules])))


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def _clip(value: str, width: int = 96) -> str:
    return value if len(value) <= width else value[: width - 3] + "..."


def parse_args(argv: Sequence[str] | None):
    import argparse

    from workbench.config import add_context_option

    parser = argparse.ArgumentParser(
        prog="python -m workbench local",
        description="Run the whole workbench on this machine: the stack deployed into an AWS "
        "emulator, the same proxy configs served by real servers on loopback.",
    )
    parser.add_argument(
        "--port",
        default=os.environ.get("LOCAL_PORT", str(DEFAULT_PORT)),
        help=f"loopback port for NGINX (default {DEFAULT_PORT}, or $LOCAL_PORT)",
    )
    parser.add_argument(
        "--https-port",
        default=os.environ.get("LOCAL_HTTPS_PORT", str(DEFAULT_HTTPS_PORT)),
        help=f"with -c https=ip: loopback port for HTTPS (default {DEFAULT_HTTPS_PORT}, or "
        "$LOCAL_HTTPS_PORT)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=ROOT / ".local",
        help="where logs, the rendered bundle and the emulator's cdk.out go (default .local/)",
    )
    add_context_option(parser, "a context value, as with `cdk deploy -c` (repeatable)")
    parser.add_argument("--down", action="store_true", help="stop a running `make local`")
    args = parser.parse_args(argv)
    args.port = _port(args.port, "LOCAL_PORT")
    args.https_port = _port(args.https_port, "LOCAL_HTTPS_PORT")
    return args


def _port(value: str, variable: str) -> int:
    if not (value.isdigit() and 1024 <= int(value) <= 65535):
        raise LocalError(f"{variable}: got {value!r}; expected a port number from 1024 to 65535")
    return int(value)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        if args.down:
            return down(args.state_dir)
        return run(
            port=args.port,
            https_port=args.https_port,
            state=args.state_dir.resolve(),
            context=args.context,
        )
    except LocalError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1


def load_local_config(context: Sequence[str]):
    """cdk.json's context plus `-c KEY=VALUE`, validated before anything starts."""
    from workbench.config import ConfigError, load_checkout_config

    try:
        return load_checkout_config(context)
    except ConfigError as error:
        raise LocalError(str(error)) from None


def run(
    *, port: int, state: Path, context: Sequence[str] = (), https_port: int = DEFAULT_HTTPS_PORT
) -> int:
    config = load_local_config(context)
    if config.https_on and https_port == port:
        raise LocalError(
            f"LOCAL_HTTPS_PORT: got {https_port}; expected a port other than LOCAL_PORT"
        )
    url = f"https://127.0.0.1:{https_port}/" if config.https_on else f"http://127.0.0.1:{port}/"
    lock = Lock(state / "local.lock")
    lock.acquire({"pid": os.getpid(), "url": url})
    try:
        check_port_free(port)
        if config.https_on:
            check_port_free(https_port, "LOCAL_HTTPS_PORT")
        require_nginx()
        with stop_on_signals(), contextlib.ExitStack() as running:
            say("[1/4] starting the AWS emulator (moto) on loopback")
            emu = running.enter_context(emulator())
            say("[2/4] cdk bootstrap + cdk deploy into the emulator (real CDK CLI, ~30 s)")
            outputs = deploy(emu, state, context)
            print_deployment(emu, outputs)
            say("[3/4] starting NGINX and the services with the rendered bundle")
            passwords = user_passwords(emu, config)
            served = running.enter_context(
                serve(config, state=state, port=port, https_port=https_port, passwords=passwords)
            )
            say("[4/4] ready")
            summary(config, url=url, state=state, emu=emu, outputs=outputs, served=served)
            wait_forever()
    except KeyboardInterrupt:
        say("\nstopping: every process started by make local")
    finally:
        lock.release()
    say("stopped")
    return 0


def wait_forever() -> None:
    while True:
        signal.pause()


def user_passwords(emu: Emulator, config) -> dict[str, str]:
    """Each user's password, from the secret the stack created for them (by the name the
    instance and the PasswordCommand output use)."""
    client = emu.client("secretsmanager")
    return {
        user: client.get_secret_value(SecretId=config.password_secret(user))["SecretString"]
        for user in config.users
    }


@contextlib.contextmanager
def serve(
    config,
    *,
    state: Path,
    port: int,
    https_port: int = DEFAULT_HTTPS_PORT,
    pebble=None,
    only: Sequence[str] | None = None,
    passwords: dict[str, str] | None = None,
):
    """NGINX and every service that runs here, from the same rendered bundle as the instance.

    With HTTPS on, a local Pebble (`pebble`, or one started here, validating on `port`) stands
    in for Let's Encrypt: the certificate for 127.0.0.1 comes through the same tls.sh and
    certbot as on the instance, and its root is the CA file to trust. `passwords`: each user's
    (the emulator's secrets; default: generated)."""
    import dataclasses
    import shutil

    from workbench.local.acme import start_pebble
    from workbench.local.runner import RunnerError, Supervisor, start_workbench
    from workbench.services import services

    unavailable = {
        s.name: LOCAL_UNAVAILABLE.format(title=s.title) for s in services(config) if not s.local
    }
    with Supervisor(state / "logs") as supervisor:
        try:
            if config.https_on and pebble is None:
                pebble = start_pebble(supervisor, state / "pebble", http_port=port)
            workbench = start_workbench(
                config,
                state / "run",
                supervisor,
                listen_port=port,
                unavailable=unavailable,
                only=only,
                https_port=https_port if config.https_on else None,
                pebble=pebble if config.https_on else None,
                passwords=passwords,
            )
            if workbench.ca_file is not None:
                # Where the README's doctor example (and the summary) find it, run after run.
                ca_file = state / "pebble-root.pem"
                shutil.copyfile(workbench.ca_file, ca_file)
                workbench = dataclasses.replace(workbench, ca_file=ca_file)
        except RunnerError as error:
            # The first line names the service and its log; the tail is in that log.
            raise LocalError(str(error).splitlines()[0]) from None
        yield workbench


def summary(config, *, url: str, state: Path, emu: Emulator, outputs: dict, served) -> None:
    from workbench.services import public_services

    rows = [("open", url)]
    for user, password in served.logins.items():
        role = "admin, " if user in config.admin_users else ""
        rows.append(("login", f"{user} / {password}  ({role}printed once)"))
    if served.ca_file is not None:
        rows += [
            ("CA file", f"{served.ca_file}  (the local Pebble's root: trust it, e.g. "
                        f"curl --cacert {served.ca_file} {url})"),
            ("http", f"{served.http_url}/ redirects to {url}"),
        ]  # fmt: skip
    for service in public_services(config):
        unavailable = served.target.unavailable.get(service.name)
        where = f"{url.rstrip('/')}{service.location}"
        rows.append(
            (service.title, f"not available locally: {unavailable}" if unavailable else where)
        )
    rows += [
        ("logs", f"{state / 'logs'}/"),
        ("AWS emulator", f"AWS_ENDPOINT_URL={emu.endpoint} (stack {config.stack_name}: "
                         "aws cloudformation describe-stacks)"),
        ("emulated", f"instance {outputs.get('InstanceId', '?')} has no real machine behind its "
                     "public IP; updates and destroy are best effort in moto"),
        ("stop", "Ctrl-C here, or `make local-down` from another terminal"),
    ]  # fmt: skip
    say("\nready: the workbench answers at " + url)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        say(f"  {label:<{width}} {value}")
