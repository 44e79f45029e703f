"""What boots on an emulated instance in the aws layer: the stack's own user data and bootstrap,
with the real identity.sh, the real AWS CLI and the emulator's instance metadata service.

At each boot (launch, or start of a stopped instance), the agent takes the shell part of the
instance's user data as EC2 holds it, and runs it in a scratch root of the instance's own: it
installs the bootstrap and runs `workbench-bootstrap boot`. At each association run it runs the
association's command as State Manager would (/bin/sh). The bootstrap reads the deployment
parameter and downloads the bundle with the real AWS CLI (v1, `tests/aws/cli/`) against the
ThreadedMotoServer; the scripts' root paths are prefixed with the scratch root (as in
tests/unit/test_bootstrap_boots.py), and identity.sh's metadata calls go to a loopback IMDSv2
for that instance (`workbench.local.emulator.imds`).

The bundle is the real identity.sh and home-volume.sh, and a provision.sh that stands in for the
real one around them (STAND_IN_PROVISION): the identity step, then the report, or, for a revision
the test marks as failing, a failure after the takeover, handed back as provision.sh does it
(the real wiring is held to that in tests/unit/test_identity.py).
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import signal
import subprocess
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from moto.ec2.models import ec2_backends

from tests.stack.user_data import shell_script
from workbench.deployment import BOOTSTRAP_PATH
from workbench.local.emulator.imds import MetadataService
from workbench.render import ASSETS

CLI = Path(__file__).with_name("cli")
# The bootstrap's and user data's absolute paths, moved under the instance's scratch root.
ROOTED = (
    *("/var/log/workbench", "/etc/workbench", "/opt/workbench", "/var/lib/workbench"),
    *("/tmp/workbench-bundle.zip", "/run/lock", BOOTSTRAP_PATH),
)

STAND_IN_PROVISION = """#!/bin/bash
# provision.sh's part in a replacement, around the real identity.sh: the identity step first;
# a failure after it (the revisions in FAIL_REVISIONS) hands back, as provision.sh's on_error does,
# then reports; otherwise settle and report success.
set -euo pipefail
BUNDLE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# provision.sh's STATE_DIR, which it passes to identity.sh.
export STATE_DIR="$WORKBENCH_SYSROOT/var/lib/workbench"
# The signal's data says which instance sent it (the tests ask whose readiness a deploy awaited).
imds="$WORKBENCH_IMDS/latest"
token=$(curl -fsS -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" "$imds/api/token")
me=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" "$imds/meta-data/instance-id")
signal() {
  printf '{"Status": "%s", "UniqueId": "%s", "Reason": "%s", "Data": "%s"}' "$1" "$2" "$3" "$me" |
    curl -fsS --max-time 10 -X PUT -H 'Content-Type:' --data-binary @- "$WORKBENCH_READY_URL"
}
if ! bash "$BUNDLE/identity.sh" take; then
  signal FAILURE step-identity-failed "step identity failed (exit 1)"
  exit 1
fi
if grep -qx "$WORKBENCH_REVISION" "$FAIL_REVISIONS" 2>/dev/null; then
  bash "$BUNDLE/identity.sh" handback jupyterhub rstudio-server
  signal FAILURE step-nginx-failed "step nginx failed (exit 1)"
  exit 1
fi
bash "$BUNDLE/identity.sh" settle
signal SUCCESS workbench-ready "the workbench answers on every public path"
"""

# Commands the scripts need that are not the machine's: the CLI, a quick sleep (the emulator's
# EC2 changes at once), services and mounts that are not there.
TOOLS = {
    "sleep": "#!/bin/bash\nexec /bin/sleep 0.05\n",
    "systemctl": "#!/bin/bash\nexit 3\n",  # no unit is active in the scratch root
    "mountpoint": "#!/bin/bash\nexit 1\n",
}


def bundle_zip() -> bytes:
    """The stand-in bundle, as the CDK asset zip holds it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("provision.sh", STAND_IN_PROVISION)
        for name in ("identity.sh", "home-volume.sh"):
            bundle.write(ASSETS / name, name)
    return buffer.getvalue()


def user_data_script(instance) -> str | None:
    """The shell-script part of an instance's user data (base64 of a MIME document); None for an
    instance launched without user data."""
    raw = instance.user_data[0] if isinstance(instance.user_data, list) else instance.user_data
    if not raw:
        return None
    raw = raw.decode() if isinstance(raw, bytes) else raw
    return shell_script(base64.b64decode(raw).decode())


@dataclass
class Run:
    instance_id: str
    kind: str  # "boot" or "association"
    returncode: int
    output: str


@dataclass
class InstanceAgent:
    """Register with `workbench.local.emulator.agent.register_agent`."""

    tmp: Path
    cli_socket: str
    fail_revisions: set[str] = field(default_factory=set)
    runs: list[Run] = field(default_factory=list)
    metadata: dict[str, MetadataService] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tools = self.tmp / "tools"
        self.tools.mkdir(parents=True, exist_ok=True)
        for name, body in TOOLS.items():
            (self.tools / name).write_text(body)
            (self.tools / name).chmod(0o755)
        shutil.copy(CLI / "aws", self.tools / "aws")
        self.fail_file = self.tmp / "fail-revisions"
        self._lock = threading.Lock()
        self._processes: dict[str, list[subprocess.Popen]] = {}

    def root(self, instance_id: str) -> Path:
        return self.tmp / instance_id

    def _rooted(self, text: str, root: Path) -> str:
        for path in ROOTED:
            text = text.replace(path, f"{root}{path}")
        return text

    def _env(self, instance_id: str, account: str, region: str) -> dict[str, str]:
        if instance_id not in self.metadata:
            service = MetadataService(instance_id, account=account, region=region)
            service.start()
            self.metadata[instance_id] = service
        self.fail_file.write_text("".join(f"{r}\n" for r in sorted(self.fail_revisions)))
        return {
            "PATH": f"{self.tools}:/usr/bin:/bin",
            "HOME": str(self.tmp),
            "LANG": "C.UTF-8",
            "WORKBENCH_SYSROOT": str(self.root(instance_id)),
            "WORKBENCH_IMDS": self.metadata[instance_id].url,
            "AWSCLI_SERVER": self.cli_socket,
            "FAIL_REVISIONS": str(self.fail_file),
        }

    def _run(self, instance_id: str, kind: str, argv: list[str], env: dict[str, str]) -> None:
        with self._lock:
            process = subprocess.Popen(
                argv,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # its own process group: `halt` ends all of it
            )
            self._processes.setdefault(instance_id, []).append(process)
        stdout, _ = process.communicate(timeout=120)
        log = self.root(instance_id) / "var/log/workbench/bootstrap.log"
        output = stdout + (log.read_text() if log.exists() else "")
        with self._lock:
            self._processes[instance_id].remove(process)
            self.runs.append(Run(instance_id, kind, process.returncode, output))

    def halt(self, instance_id: str) -> None:
        """The instance stopped or terminated: its runs end (a start boots it anew)."""
        with self._lock:
            for process in self._processes.get(instance_id, []):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)

    def boot(self, instance_id: str, *, account: str, region: str) -> None:
        root = self.root(instance_id)
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        instance = ec2_backends[account][region].get_instance(instance_id)
        user_data = user_data_script(instance)
        if user_data is None:
            return  # nothing runs at its boot
        script = root / "user-data.sh"
        script.write_text(self._rooted(user_data, root))
        self._run(
            instance_id, "boot", ["bash", str(script)], self._env(instance_id, account, region)
        )

    def run(self, instance_id: str, commands: list[str], *, account: str, region: str) -> None:
        root = self.root(instance_id)
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        command = self._rooted("\n".join(commands), root)
        self._run(
            instance_id,
            "association",
            ["/bin/sh", "-c", command],
            self._env(instance_id, account, region),
        )

    def stop(self) -> None:
        for service in self.metadata.values():
            service.stop()
        self.metadata.clear()

    def runs_of(self, instance_id: str, kind: str | None = None) -> list[Run]:
        with self._lock:
            return [r for r in self.runs if r.instance_id == instance_id and kind in (None, r.kind)]


def environment_for_cli(endpoint: str) -> dict[str, str]:
    """The CLI server's environment: the emulator's endpoint and dummy credentials only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    return env
