"""Run the real rendered provision.sh in a sandbox: a scratch root and recording stubs.

What the instance would change (packages, users, services, swap, AWS) is done by stubs on PATH
that record their arguments and keep just enough state (installed packages, users, enabled and
active units) for the script's guards to see what an earlier run did. Everything else is the real
thing: bash, coreutils, tar, sha256sum, cmp, diff. PATH holds only the stubs and an allowlist of
those real tools, so a command the script gains without a stub fails the tests instead of touching
this machine. The script's root-relative paths are prefixed with WORKBENCH_SYSROOT (empty on the
instance), which the sandbox points at its scratch root.

The identity step runs the real identity.sh from the bundle: its AWS calls go to the `aws` stub,
which keeps a small EC2 (the /home volume, the Elastic IP, this instance and the one it replaces,
in the stub state's ec2/ directory) and enforces EC2's rule that a volume attached elsewhere
cannot be attached; its metadata calls go to the `curl` stub, which answers as IMDSv2 does. By
default the volume is attached here and the address associated, so identity.sh asks EC2 nothing;
`replacing()` sets the scene of a replacement instead (the volume on the old instance, running).

The home step runs the real home-volume.sh from the bundle. Its device commands (blkid, mkfs,
mount, ...) are stubs that emulate one EBS volume: its files sit in the stub state while it is
unmounted and move into the mount point while mounted, with what the mount hides kept aside. The
volume's device is a real block device node (major 240, reserved for local use: no driver, so
nothing can open it), made with mknod, which needs root, as CI runs; udev's by-id link to it is
"the attachment", which a test can remove or let appear after a number of polls.

Downloads come from local fixtures. Their checksums cannot match the real pins, so `render`
substitutes the fixtures' sha256 for the pinned ones, unless asked to keep the real pins (which
proves that a download with the wrong checksum stops provisioning).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from stacks.storage import HOME_DEVICE
from workbench import deployment
from workbench.config import WorkbenchConfig
from workbench.deployment import parameter_name
from workbench.render import INSTANCE, PROVISION_LOCK, render_bundle, render_text

# Real tools the script may run as they are: they only read, or write under WORKBENCH_SYSROOT.
REAL_TOOLS = [
    *("awk", "basename", "bash", "cat", "chmod", "cmp", "cp", "cut", "date", "diff", "dirname"),
    *("env", "find", "flock", "grep", "head", "install", "ln", "ls", "mkdir", "mktemp", "mv"),
    *("readlink", "realpath", "rm", "rmdir", "sed", "seq", "sha256sum", "sort", "tail", "tar"),
    *("tee", "touch", "tr", "wc", "xargs", "xz"),
    # Ownership and modes, for real in the scratch root (homes, the shared folder; gids by number).
    *("chgrp", "chown", "stat"),
]
# What the sandbox replaces: everything that changes the machine or reaches the network.
STUBS = [
    *("apt-get", "dpkg-query", "systemctl", "nginx", "useradd", "getent", "id", "passwd"),
    *("chpasswd", "fallocate", "mkswap", "swapon", "aws", "curl", "sleep", "python3"),
    # Accounts and groups (the stub keeps /etc/passwd, /etc/group and /etc/shadow in the root),
    # sessions, ACLs.
    *("groupadd", "gpasswd", "usermod", "pkill", "setfacl", "getfacl"),
    # The /home volume's device layer.
    *("blkid", "lsblk", "findmnt", "mkfs.ext4", "mount", "umount", "mountpoint", "sync"),
    *("dumpe2fs", "blockdev", "e2fsck", "resize2fs"),
    # identity.sh's handback, for processes that keep /home busy.
    "fuser",
]

# The values the bootstrap writes to /etc/workbench/env. The URL is shaped like the presigned URL
# a wait condition handle gives on AWS, '&'s included.
READY_URL = (
    "https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/arn%3Aaws%3Acloudformation"
    "%3Aus-east-1%3A123456789012%3Astack%2FWorkbench%2F0a1b%2FWorkbenchReadyHandle"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T000000Z&X-Amz-Expires=86399"
    "&X-Amz-Signature=0f1e2d3c"
)
VOLUME_ID = "vol-0123456789abcdef0"
NVME_LINK = "nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0"
STACK = "Workbench"
REGION = "us-east-1"
ZONE = "us-east-1a"
INSTANCE_ID = "i-0a1b2c3d4e5f60718"
"""The instance the sandbox is."""
OLD_INSTANCE_ID = "i-0fedcba9876543210"
"""The instance it replaces, in `replacing()`."""
ADDRESS_ID = "eipalloc-0123456789abcdef0"
PUBLIC_IP = "203.0.113.10"
IMDS = "http://169.254.169.254/"
AUTO_IP = "198.51.100.7"
"""The address EC2 gives the instance at launch, until it takes the Elastic IP."""
# No driver has this block major (240-254 are for local use): the node exists, opens fail.
NO_DRIVER_MAJOR = 240

STUB = Path(__file__).with_name("provision_stub.sh")

_CALL_END = "\x1e"
_FIELD_END = "\x1f"


def deployment_values(**values: str) -> dict[str, str]:
    """A deployment record's values (workbench/deployment.py), by short name (`ready_url` for
    WORKBENCH_READY_URL), overridable."""
    sample = {
        "revision": "61d341f4" + "0" * 56,
        "bundle": "s3://bucket/" + "a" * 64 + ".zip",
        "ready_url": READY_URL,
        "home_volume_id": VOLUME_ID,
        "home_device": HOME_DEVICE,
        "address_id": ADDRESS_ID,
        "public_ip": PUBLIC_IP,
    }
    return {f"WORKBENCH_{k.upper()}": v for k, v in (sample | values).items()}


def deployment_record(**values: str) -> str:
    """The deployment parameter's value, as the stack writes it."""
    return deployment.record(deployment_values(**values))


def bootstrap_script(**values: str | None) -> str:
    """The bootstrap the user data installs, rendered with a sample stack, overridable by name."""
    sample = {
        "region": REGION,
        "stack": STACK,
        "parameter": parameter_name(STACK),
        "lock_file": PROVISION_LOCK,
        "phase": None,
    }
    return render_text("bootstrap.sh.j2", **(sample | values))


def bootstrap_env(**values: str) -> str:
    """The /etc/workbench/env the bootstrap writes: its region and stack, then the record."""
    return f"WORKBENCH_REGION={REGION}\nWORKBENCH_STACK={STACK}\n" + deployment_record(**values)


@dataclass(frozen=True)
class Put:
    """One PUT curl made: to the wait condition's URL, when it is a signal."""

    delivered: bool
    method: str
    url: str
    body: str
    headers: tuple[str, ...]

    def json(self) -> dict:
        return json.loads(self.body)


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
    puts: list[Put]

    def called(self, command: str, *args: str) -> list[list[str]]:
        """Calls of `command` whose arguments start with `args`."""
        return [c for c in self.calls if c[0] == command and c[1 : 1 + len(args)] == list(args)]

    def signals(self) -> list[dict]:
        """The bodies of the signals CloudFormation received (PUTs to the wait handle's URL)."""
        return [p.json() for p in self.puts if p.delivered and p.url == READY_URL]

    def statuses(self) -> list[tuple[str, str]]:
        """(Status, UniqueId) of every signal received."""
        return [(s["Status"], s["UniqueId"]) for s in self.signals()]

    def downloads(self) -> list[str]:
        """URLs curl downloaded (not the health check, a signal or the instance metadata)."""
        return [
            c[-1]
            for c in self.called("curl")
            if "-w" not in c and "PUT" not in c and not c[-1].startswith(IMDS)
        ]

    def steps(self) -> list[str]:
        return re.findall(r"^\S+ \[([a-z-]+)\] begin$", self.log, re.M)


@dataclass
class Sandbox:
    tmp: Path
    memory_kb: int = 3_900_000
    secret: str = "pw-Sandbox-7f3a9c2e41"
    env: dict[str, str] = field(default_factory=dict)

    def password(self, config: WorkbenchConfig, user: str) -> str:
        """What the aws stub returns for `user`'s secret (each secret has its own value)."""
        digest = hashlib.sha256(config.password_secret(user).encode()).hexdigest()[:8]
        return f"{self.secret}-{digest}"

    def shadow(self) -> dict[str, str]:
        """/etc/shadow as the chpasswd and usermod stubs keep it: user -> hash ('!' if locked)."""
        path = self.root / "etc/shadow"
        lines = path.read_text().splitlines() if path.exists() else []
        return dict(line.split(":", 1) for line in lines)

    def group(self, name: str) -> tuple[int, list[str]]:
        """A group's gid and members, from the sandbox's /etc/group."""
        for line in (self.root / "etc/group").read_text().splitlines():
            group, _, gid, members = line.split(":")
            if group == name:
                return int(gid), [m for m in members.split(",") if m]
        raise KeyError(name)

    def uid(self, user: str) -> int:
        for line in (self.root / "etc/passwd").read_text().splitlines():
            if line.split(":")[0] == user:
                return int(line.split(":")[2])
        raise KeyError(user)

    def expired(self, user: str) -> bool:
        return (self.state / "expired" / user).exists()

    def __post_init__(self) -> None:
        self.root = self.tmp / "root"
        self.stubs = self.tmp / "stubs"
        self.state = self.tmp / "state"
        self.downloads = self.tmp / "downloads"
        self.calls_file = self.tmp / "calls"
        self.puts_file = self.tmp / "puts"
        self.scratch = self.tmp / "scratch"
        self.bundle = self.root / INSTANCE.root.lstrip("/")
        for directory in (self.root, self.stubs, self.downloads, self.scratch):
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
        # As on Ubuntu's AMIs: root, and ubuntu (uid 1000, in sudo) for SSH.
        (self.root / "etc/passwd").write_text(
            "root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash\n"
        )
        (self.root / "etc/group").write_text("root:x:0:\nsudo:x:27:ubuntu\nubuntu:x:1000:\n")
        (self.root / "etc/fstab").write_text("LABEL=cloudimg-rootfs / ext4 defaults 0 1\n")
        (self.root / "etc/workbench/env").write_text(bootstrap_env())
        self._make_volume()

    # --- the /home volume ---------------------------------------------------------------------

    def _make_volume(self) -> None:
        """The AMI's /home, a blank volume's device node, and udev's link to it (attached)."""
        authorized = self.root / "home/ubuntu/.ssh/authorized_keys"
        authorized.parent.mkdir(parents=True)
        authorized.write_text("ssh-ed25519 AAAA sandbox\n")
        self.device = self.root / "dev/nvme1n1"
        self.device.parent.mkdir(parents=True)
        try:
            os.mknod(self.device, 0o600 | stat.S_IFBLK, os.makedev(NO_DRIVER_MAJOR, 0))
        except PermissionError as error:
            raise AssertionError(
                "the provision sandbox makes a block device node for /home's volume: run the "
                "tests as root (as CI does)"
            ) from error
        self.by_id_link = self.root / "dev/disk/by-id" / NVME_LINK
        self.by_id_link.parent.mkdir(parents=True)
        self.attach()
        (self.state / "device").write_text(f"{self.device}\n")
        self._make_ec2()

    # --- EC2, as the aws and curl (IMDS) stubs answer -------------------------------------------

    def _make_ec2(self) -> None:
        """This instance running with the volume attached and the address associated."""
        ec2 = self.state / "ec2"
        (ec2 / "instances").mkdir(parents=True)
        (ec2 / "me").write_text(f"{INSTANCE_ID}\n")
        (ec2 / "zone").write_text(f"{ZONE}\n")
        (ec2 / "auto-ip").write_text(f"{AUTO_IP}\n")
        self.set_instance(INSTANCE_ID, "running")
        self.set_volume("in-use", INSTANCE_ID)
        self.set_address(INSTANCE_ID)

    def set_instance(self, instance_id: str, state: str, stack: str = STACK) -> None:
        (self.state / "ec2/instances" / instance_id).write_text(f"{state}\t{stack}\n")

    def set_volume(self, state: str, holder: str | None, zone: str = ZONE) -> None:
        """The /home volume in EC2: `in-use` on `holder`, or `available` (holder None)."""
        attachment = "attached" if holder else "None"
        (self.state / "ec2/volume").write_text(
            f"{state}\t{holder or 'None'}\t{attachment}\t{zone}\n"
        )
        if holder == INSTANCE_ID:
            self.attach()
        else:
            self.detach()

    def set_address(self, holder: str | None) -> None:
        (self.state / "ec2/address").write_text(f"{holder or 'None'}\n")

    def replacing(self, old_state: str = "running") -> None:
        """A replacement's first boot: the volume and the address are the old instance's."""
        self.set_instance(OLD_INSTANCE_ID, old_state)
        self.set_volume("in-use", OLD_INSTANCE_ID)
        self.set_address(OLD_INSTANCE_ID)

    def ec2(self) -> dict[str, object]:
        """What EC2 holds now: the volume's (state, holder), the address's holder, and each
        instance's state."""
        state, holder, _, _ = (self.state / "ec2/volume").read_text().split()
        address = (self.state / "ec2/address").read_text().strip()
        instances = {
            p.name: p.read_text().split()[0] for p in (self.state / "ec2/instances").iterdir()
        }
        none = {"None": None}
        return {
            "volume": (state, none.get(holder, holder)),
            "address": none.get(address, address),
            "instances": instances,
        }

    def attach(self) -> None:
        """What udev does once EC2 attaches the volume."""
        if not self.by_id_link.is_symlink():
            self.by_id_link.symlink_to(self.device)

    def detach(self) -> None:
        self.by_id_link.unlink(missing_ok=True)

    def mounts(self) -> list[tuple[str, str]]:
        """(source, target) of what the emulated volume layer has mounted."""
        path = self.state / "mounts"
        lines = path.read_text().splitlines() if path.exists() else []
        return [tuple(line.split(" ", 1)) for line in lines]

    def hidden_under(self, target: Path) -> list[str]:
        """What a mount at `target` hides (on the root volume, beneath it)."""
        under = self.state / "under" / str(target).replace("/", "_")
        return sorted(p.name for p in under.iterdir()) if under.exists() else []

    def volume_fs(self) -> dict[str, str]:
        path = self.state / "volume.fs"
        if not path.exists():
            return {}
        return dict(line.split("=", 1) for line in path.read_text().splitlines())

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

        home-volume.sh loses its executable bit, as in a zip extraction: provision.sh must not
        depend on it.
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
        (self.bundle / "home-volume.sh").chmod(0o644)

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

    @property
    def lock_file(self) -> Path:
        return self.root / PROVISION_LOCK.lstrip("/")

    def run(
        self,
        phase: str | None = None,
        *,
        xtrace: bool = False,
        lock_fd: int | None = None,
        **env: str,
    ) -> Run:
        """Run provision.sh (with `phase` as its argument, if given). `lock_fd`: an open file the
        script inherits as fd 9, as it inherits the bootstrap's lock."""
        self.calls_file.write_text("")
        self.puts_file.write_text("")
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
            "STUB_PUTS": str(self.puts_file),
            "STUB_PYTHON3": sys.executable,
            "STUB_ATTACH_LINK": str(self.by_id_link),
            "STUB_ATTACH_TARGET": str(self.device),
            "TMPDIR": str(self.scratch),
            **self.env,
            **env,
        }
        command = ["/bin/bash", *(["-x"] if xtrace else []), str(self.bundle / "provision.sh")]
        command += [phase] if phase else []
        inherit = None if lock_fd is None else (lambda: os.dup2(lock_fd, 9))
        done = subprocess.run(
            command,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            preexec_fn=inherit,
            # subprocess closes every other descriptor after preexec_fn: keep the lock's.
            pass_fds=() if lock_fd is None else (9,),
        )
        raw = self.calls_file.read_text()
        calls = [c.split(_FIELD_END)[:-1] for c in raw.split(_CALL_END) if c]
        log = log_file.read_text()[len(before) :] if log_file.exists() else ""
        puts = []
        for record in self.puts_file.read_text().split(_CALL_END)[:-1]:
            delivered, method, url, body, *headers = record.split(_FIELD_END)[:-1]
            puts.append(Put(delivered == "1", method, url, body, tuple(headers)))
        return Run(done.returncode, done.stdout + done.stderr, log, calls, puts)

    def snapshot(self) -> dict[str, tuple[str, int]]:
        """Every file under the root (content hash or link target, mode), except the log."""
        result = {}
        for path in sorted(self.root.rglob("*")):
            relative = "/" + str(path.relative_to(self.root))
            if relative == "/var/log/workbench/provision.log":
                continue
            if path.is_symlink():
                result[relative] = (f"-> {os.readlink(path)}", 0)
            elif path.is_block_device():
                result[relative] = ("block device", path.stat().st_rdev)
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
