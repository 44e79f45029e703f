"""Run the real rendered provision.sh in a sandbox: a scratch root and recording stubs.

What the instance would change (packages, users, services, swap, AWS) is done by stubs on PATH
that record their arguments and keep just enough state (installed packages, users, enabled and
active units) for the script's guards to see what an earlier run did. Everything else is the real
thing: bash, coreutils, tar, sha256sum, cmp, diff. PATH holds only the stubs and an allowlist of
those real tools, so a command the script gains without a stub fails the tests instead of touching
this machine. The script's root-relative paths are prefixed with WORKBENCH_SYSROOT (empty on the
instance), which the sandbox points at its scratch root.

Downloads come from local fixtures. Their checksums cannot match the real pins, so `render`
substitutes the fixtures' sha256 for the pinned ones, unless asked to keep the real pins (which
proves that a download with the wrong checksum stops provisioning).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from workbench.config import WorkbenchConfig
from workbench.render import INSTANCE, render_bundle

# Real tools the script may run as they are: they only read, or write under WORKBENCH_SYSROOT.
REAL_TOOLS = [
    *("awk", "basename", "cat", "chmod", "cmp", "cp", "cut", "date", "diff", "dirname", "env"),
    *("find", "grep", "head", "install", "ln", "ls", "mkdir", "mv", "rm", "sed", "seq"),
    *("sha256sum", "sort", "tail", "tar", "tee", "touch", "tr", "wc", "xargs", "xz"),
]
# What the sandbox replaces: everything that changes the machine or reaches the network.
STUBS = [
    *("apt-get", "dpkg-query", "systemctl", "nginx", "useradd", "getent", "id", "passwd"),
    *("chpasswd", "fallocate", "mkswap", "swapon", "aws", "curl", "sleep", "python3"),
]

STUB = Path(__file__).with_name("provision_stub.sh")

_CALL_END = "\x1e"
_FIELD_END = "\x1f"
# The pins the sandbox replaces with its fixtures' checksums: NAME_URL, NAME_SHA256.
PINNED_DOWNLOADS = ("RSTUDIO", "SHINY", "NODE")


def pins(script: str) -> dict[str, str]:
    """`NAME=value` assignments of the pinned downloads and versions in a rendered script."""
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*(?:_URL|_SHA256|_VERSION))=(\S+)$", script, re.M))


@dataclass
class Run:
    returncode: int
    output: str
    log: str
    calls: list[list[str]]

    def called(self, command: str, *args: str) -> list[list[str]]:
        """Calls of `command` whose arguments start with `args`."""
        return [c for c in self.calls if c[0] == command and c[1 : 1 + len(args)] == list(args)]

    def signals(self) -> list[tuple[str, str]]:
        """(status, unique id) of every CloudFormation signal sent."""
        result = []
        for call in self.called("aws", "cloudformation", "signal-resource"):
            options = dict(zip(call[1::2], call[2::2], strict=False))
            result.append((options["--status"], options["--unique-id"]))
        return result

    def steps(self) -> list[str]:
        return re.findall(r"^\S+ \[([a-z]+)\] begin$", self.log, re.M)


@dataclass
class Sandbox:
    tmp: Path
    memory_kb: int = 3_900_000
    secret: str = "pw-Sandbox-7f3a9c2e41"
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = self.tmp / "root"
        self.stubs = self.tmp / "stubs"
        self.state = self.tmp / "state"
        self.downloads = self.tmp / "downloads"
        self.calls_file = self.tmp / "calls"
        self.bundle = self.root / INSTANCE.root.lstrip("/")
        for directory in (self.root, self.stubs, self.downloads):
            directory.mkdir(parents=True, exist_ok=True)
        for sub in ("packages", "enabled", "active"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        (self.state / "http").write_text("")
        stub = self.stubs / "stub"
        shutil.copyfile(STUB, stub)
        stub.chmod(0o755)
        for name in STUBS:
            (self.stubs / name).symlink_to(stub)
        for tool in REAL_TOOLS:
            real = shutil.which(tool)
            assert real, f"the sandbox needs {tool} on this machine"
            (self.stubs / tool).symlink_to(real)
        (self.root / "proc").mkdir()
        (self.root / "proc/meminfo").write_text(f"MemTotal:       {self.memory_kb} kB\n")
        (self.root / "etc/workbench").mkdir(parents=True)
        (self.root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
        (self.root / "etc/fstab").write_text("LABEL=cloudimg-rootfs / ext4 defaults 0 1\n")
        (self.root / "etc/workbench/env").write_text(
            "WORKBENCH_REGION=us-east-1\nWORKBENCH_STACK=Workbench\n"
            "WORKBENCH_RESOURCE=WorkbenchInstance\n"
            "WORKBENCH_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:pw\n"
            "WORKBENCH_BUNDLE=s3://bucket/bundle.zip\n"
        )

    # --- the bundle ---------------------------------------------------------------------------

    def render(self, config: WorkbenchConfig, *, real_pins: bool = False) -> str:
        """Render the bundle where the instance has it; return the script as the sandbox runs it."""
        render_bundle(config, self.bundle)
        self._complete_bundle()
        script_path = self.bundle / "provision.sh"
        script = script_path.read_text()
        found = pins(script)
        self.node_version = found["NODE_VERSION"]
        for name in PINNED_DOWNLOADS:
            if f"{name}_URL" not in found:
                continue  # not in this configuration (no Shiny Server without the penguins app)
            filename = found[f"{name}_URL"].rsplit("/", 1)[1]
            fixture = self._fixture(name, filename)
            if not real_pins:
                digest = hashlib.sha256(fixture.read_bytes()).hexdigest()
                pin = re.compile(rf"^{name}_SHA256=[0-9a-f]{{64}}$", re.M)
                script, count = pin.subn(f"{name}_SHA256={digest}", script)
                assert count == 1, f"{name}_SHA256 must be assigned exactly once in provision.sh"
        script_path.write_text(script)
        return script

    def _complete_bundle(self) -> None:
        """Stand-ins for bundle parts other branches provide, only where they are missing.

        The home volume script is always replaced by a recording stub: it would mount disks.
        """
        stand_ins = {
            "jupyterhub_config.py": "c = get_config()  # noqa\n",
            "penguin-api/requirements.txt": "fastapi\n",
            "penguin-api/train.py": "print('train')\n",
            "penguin-api/app.py": "app = None\n",
            "penguins-app/requirements.txt": "shiny\n",
            "penguins-app/app.py": "app = None\n",
        }
        for relative, text in stand_ins.items():
            path = self.bundle / relative
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        home = self.bundle / "home-volume.sh"
        home.unlink(missing_ok=True)
        home.symlink_to(self.stubs / "stub")

    def _fixture(self, name: str, filename: str) -> Path:
        path = self.downloads / filename
        if path.exists():
            return path
        if name == "NODE":
            # A real .tar.xz laid out like nodejs.org's, with stub node and npm inside.
            buffer = io.BytesIO()
            top = filename.removesuffix(".tar.xz")
            with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
                for tool in ("node", "npm"):
                    info = tarfile.TarInfo(f"{top}/bin/{tool}")
                    info.type = tarfile.SYMTYPE
                    info.linkname = str(self.stubs / "stub")
                    tar.addfile(info)
            path.write_bytes(buffer.getvalue())
        else:
            path.write_bytes(f"fixture for {filename}\n".encode())
        return path

    # --- knobs --------------------------------------------------------------------------------

    def answer(self, url: str, code: int) -> None:
        """Make the health check see `code` for `url`."""
        with (self.state / "http").open("a") as http:
            http.write(f"{url} {code}\n")

    # --- running ------------------------------------------------------------------------------

    def run(self, *, xtrace: bool = False, **env: str) -> Run:
        self.calls_file.write_text("")
        log_file = self.root / "var/log/workbench/provision.log"
        before = log_file.read_text() if log_file.exists() else ""
        environment = {
            "PATH": str(self.stubs),
            "HOME": str(self.tmp),
            "LANG": "C.UTF-8",
            "WORKBENCH_SYSROOT": str(self.root),
            "STUB_BIN": str(self.stubs),
            "STUB_STATE": str(self.state),
            "STUB_CALLS": str(self.calls_file),
            "STUB_DOWNLOADS": str(self.downloads),
            "STUB_SECRET": self.secret,
            "STUB_NODE_VERSION": getattr(self, "node_version", "0"),
            **self.env,
            **env,
        }
        command = ["/bin/bash", *(["-x"] if xtrace else []), str(self.bundle / "provision.sh")]
        done = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=120, check=False
        )
        raw = self.calls_file.read_text()
        calls = [c.split(_FIELD_END)[:-1] for c in raw.split(_CALL_END) if c]
        log = log_file.read_text()[len(before) :] if log_file.exists() else ""
        return Run(done.returncode, done.stdout + done.stderr, log, calls)

    def snapshot(self) -> dict[str, tuple[str, int]]:
        """Every file under the root (content hash or link target, mode), except the log."""
        result = {}
        for path in sorted(self.root.rglob("*")):
            relative = "/" + str(path.relative_to(self.root))
            if relative == "/var/log/workbench/provision.log":
                continue
            if path.is_symlink():
                result[relative] = (f"-> {os.readlink(path)}", 0)
            elif path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                result[relative] = (digest, path.stat().st_mode)
            else:
                result[relative] = ("dir", path.stat().st_mode)
        for path in sorted(self.state.rglob("*")):
            result["state:" + str(path.relative_to(self.state))] = (
                path.read_text() if path.is_file() else "dir",
                0,
            )
        return result
