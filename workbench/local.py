"""`make local`: the whole workbench on one machine, with no AWS account.

1. an AWS emulator (moto's ThreadedMotoServer, in this process, seeded with what moto lacks);
2. the real CDK CLI bootstraps and deploys the real template into it (`--method=direct`);
3. the same rendered bundle the instance runs, on loopback: NGINX, JupyterHub, the model API and
   the penguins app (RStudio Server cannot be installed here);
4. one summary; then it stays in the foreground until Ctrl-C, and stops everything it started.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.emulator import REGION, register_missing_models, seed_ssm

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8080
ACCOUNT = "123456789012"  # moto's default account
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class LocalError(Exception):
    """Why local mode cannot go on: one line, printed as `error: ...`."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_port_free(port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise LocalError(
                    f"port {port} is busy: another program listens on 127.0.0.1:{port}; "
                    f"choose another with `make local LOCAL_PORT=<port>`"
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
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            CREDENTIALS,
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_EC2_METADATA_DISABLED="true",
            CDK_DISABLE_CLI_TELEMETRY="true",
            JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
            # cdk.json's `python3 app.py` must be this interpreter (the venv's).
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
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

    # The werkzeug request log would bury the summary.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    register_missing_models()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    emu = Emulator(port=port, server=server)
    try:
        ami = emu.client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        seed_ssm(ami, bootstrapped=False)
        yield emu
    finally:
        server.stop()


def _cdk(emu: Emulator, args: Sequence[str], log: Path) -> None:
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
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
        raise LocalError(f"`cdk {args[0]}` into the emulator failed: {reason} (log: {log})")


def _last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("❌", "error:", "Error", "ValidationError")) or "failed" in line:
            return line.lstrip("❌ ").strip()
    return lines[-1] if lines else "no output"


def deploy(emu: Emulator, state: Path, context: Sequence[str] = ()) -> dict[str, str]:
    """Bootstrap and deploy the stack into the emulator with the real CLI; return its outputs."""
    log = state / "logs" / "cdk.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    outputs_file = state / "outputs.json"
    extra = [arg for item in context for arg in ("-c", item)]
    _cdk(emu, ["bootstrap", f"aws://{ACCOUNT}/{REGION}"], log)
    _cdk(
        emu,
        [
            "deploy",
            # Change-set deploys lose the outputs in moto (proxy notes).
            "--method=direct",
            "--require-approval=never",
            "--output",
            str(state / "cdk.out"),
            "--outputs-file",
            str(outputs_file),
            *extra,
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
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        raise LocalError("nginx is not installed: `apt-get install nginx` (or run `make local`)")


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
