"""The user-data bootstrap across boots, run whole in bash: cloud-init runs it on every boot (the
user data's cloud-config part), so it must apply a changed bundle and leave an unchanged one be.

- first boot: download the bundle, unpack it, run its provision.sh;
- a reboot with the same user data: no download, no AWS CLI needed; provision.sh runs again
  (it changes nothing that is in place);
- a boot after a deploy that changed the bundle (a new key in the user data): download and unpack
  the new bundle in place of the old, and run the new provision.sh.

The bootstrap's absolute paths (/etc, /opt, /var/log, /tmp) are prefixed with a scratch root in
its text. PATH holds only stubs (aws, snap, curl) and an allowlist of the real tools it uses, so
nothing here touches this machine or the network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.unit.provision_sandbox import READY_URL, bootstrap_script

PATHS = (
    *("/var/log/workbench", "/etc/workbench", "/opt/workbench", "/tmp/workbench-bundle.zip"),
    "/run/lock",
)
REAL_TOOLS = ("bash", "cat", "chmod", "date", "flock", "mkdir", "mv", "rm")
KEY_A = "a" * 64 + ".zip"
KEY_B = "b" * 64 + ".zip"
BUCKET = "cdk-hnb659fds-assets-123456789012-us-east-1"


class Machine:
    """A scratch root with the bucket's bundles, stubs that record each call, and boots."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "root"
        self.root.mkdir()
        self.bucket = tmp / "bucket"
        self.bucket.mkdir()
        self.calls = tmp / "calls"
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for tool in REAL_TOOLS:
            found = shutil.which(tool)
            assert found, f"{tool} is on every Debian machine"
            (self.bin / tool).symlink_to(found)
        # Any python3 unpacks a zip: this one, as the real binary (a venv's or pyenv's python3
        # may be a shim that needs more than this PATH).
        (self.bin / "python3").symlink_to(Path(sys.executable).resolve())
        self.stubs = tmp / "stubs"
        self.stubs.mkdir()
        # Stubs use builtins and absolute paths only: PATH is the bootstrap's.
        record = f'echo "${{0##*/}} $*" >>"{self.calls}"\n'
        # `aws s3 cp --region R s3://BUCKET/KEY DEST`: the bucket is a directory here.
        cp = shutil.which("cp")
        self._stub("aws", record + f'{cp} "{self.bucket}/${{5##*/}}" "$6"\n')
        self._stub("snap", record + "exit 1\n")  # the CLI is never installed here
        self._stub("curl", record)

    def _stub(self, name: str, body: str) -> None:
        path = self.stubs / name
        path.write_text(f"#!/bin/bash\n{body}")
        path.chmod(0o755)

    def publish(self, key: str, version: str, *extra: str) -> None:
        """Put a bundle under `key`: a provision.sh that records which bundle ran it, with what."""
        record = f'>>"{self.root}/provisioned"'
        provision = f'#!/bin/bash\necho "$(cat "${{0%/*}}/version") $WORKBENCH_BUNDLE" {record}\n'
        with zipfile.ZipFile(self.bucket / key, "w") as bundle:
            bundle.writestr("provision.sh", provision)  # zip keeps no mode: the bootstrap sets it
            bundle.writestr("version", version)
            for name in extra:
                bundle.writestr(name, "")

    def boot(self, key: str, *, with_aws_cli: bool = True) -> subprocess.CompletedProcess:
        """Boot with the user data of a deploy whose bundle is `key`."""
        script = bootstrap_script(bucket=BUCKET, key=key)
        for path in PATHS:
            assert path in script, path
            script = script.replace(path, f"{self.root}{path}")
        (self.root / "tmp").mkdir(exist_ok=True)
        path = self.root / "user-data.sh"
        path.write_text(script)
        stubs = self.stubs
        if not with_aws_cli:
            stubs = self.stubs.with_name("stubs-no-aws")
            shutil.rmtree(stubs, ignore_errors=True)
            shutil.copytree(self.stubs, stubs, symlinks=True)
            (stubs / "aws").unlink()
        return subprocess.run(
            [str(self.bin / "bash"), str(path)],
            env={"PATH": f"{stubs}:{self.bin}"},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def calls_of(self, tool: str) -> list[str]:
        lines = self.calls.read_text().splitlines() if self.calls.exists() else []
        return [line for line in lines if line.split()[0] == tool]

    def provisioned(self) -> list[str]:
        path = self.root / "provisioned"
        return path.read_text().splitlines() if path.exists() else []

    def log(self) -> str:
        return (self.root / "var/log/workbench/bootstrap.log").read_text()


@pytest.fixture
def machine(tmp_path) -> Machine:
    machine = Machine(tmp_path)
    machine.publish(KEY_A, "A", "only-in-a")
    machine.publish(KEY_B, "B")
    return machine


def test_first_boot_downloads_the_bundle_and_provisions(machine):
    done = machine.boot(KEY_A)
    assert done.returncode == 0, machine.log()
    assert machine.calls_of("aws") == [
        f"aws s3 cp --region us-east-1 s3://{BUCKET}/{KEY_A} "
        f"{machine.root}/tmp/workbench-bundle.zip"
    ]
    assert machine.provisioned() == [f"A s3://{BUCKET}/{KEY_A}"]
    assert (machine.root / "opt/workbench/.bundle").read_text() == f"s3://{BUCKET}/{KEY_A}\n"


def test_a_reboot_with_the_same_bundle_provisions_again_without_s3(machine):
    assert machine.boot(KEY_A).returncode == 0, machine.log()
    done = machine.boot(KEY_A, with_aws_cli=False)
    assert done.returncode == 0, machine.log()
    assert len(machine.calls_of("aws")) == 1, "downloaded once, at the first boot"
    assert machine.calls_of("snap") == [], "no AWS CLI needed to boot"
    assert machine.provisioned() == [f"A s3://{BUCKET}/{KEY_A}"] * 2
    assert f"s3://{BUCKET}/{KEY_A} in place; running provision.sh" in machine.log()
    assert machine.calls_of("curl") == [], "the bootstrap itself signals only its failures"


def test_a_boot_after_a_deploy_that_changed_the_bundle_applies_the_new_one(machine):
    assert machine.boot(KEY_A).returncode == 0, machine.log()
    done = machine.boot(KEY_B)
    assert done.returncode == 0, machine.log()
    assert [call.split()[5] for call in machine.calls_of("aws")] == [
        f"s3://{BUCKET}/{KEY_A}",
        f"s3://{BUCKET}/{KEY_B}",
    ]
    assert machine.provisioned() == [f"A s3://{BUCKET}/{KEY_A}", f"B s3://{BUCKET}/{KEY_B}"]
    bundle = machine.root / "opt/workbench"
    assert sorted(p.name for p in bundle.iterdir()) == [".bundle", "provision.sh", "version"], (
        "the new bundle replaces the old one whole"
    )
    env = (machine.root / "etc/workbench/env").read_text()
    assert f"\nWORKBENCH_BUNDLE=s3://{BUCKET}/{KEY_B}\n" in env
    assert not (machine.root / "opt/workbench.new").exists()


def test_a_failed_download_leaves_no_bundle_marked_in_place(machine):
    assert machine.boot(KEY_A).returncode == 0, machine.log()
    (machine.bucket / KEY_B).unlink()  # the stub's cp fails: the asset is gone
    done = machine.boot(KEY_B)
    assert done.returncode != 0
    assert machine.provisioned() == [f"A s3://{BUCKET}/{KEY_A}"], "nothing runs after a failure"
    (put,) = machine.calls_of("curl")
    assert put.endswith(READY_URL), "the failure is reported to the deploy that waits"
    marked = (machine.root / "opt/workbench/.bundle").read_text()
    assert marked == f"s3://{BUCKET}/{KEY_A}\n", "the next boot tries the new bundle again"
