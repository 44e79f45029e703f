"""home-volume.sh for real: a loop device stands in for the EBS volume, a temporary directory for
/home, a temporary file for /etc/fstab. The script from the rendered bundle runs unchanged; only
its paths are pointed elsewhere, so the machine's own /home and /etc/fstab are never touched.

mkfs.ext4 is reached through a recording wrapper that runs the real mkfs.ext4: "formats nothing"
is measured, not inferred. "The volume is attached" is udev's by-id link to the loop device
appearing, which a test can delay or withhold: provisioning starts before CloudFormation attaches
the volume, and `mount` waits for it within a bound. Needs root (losetup, mkfs, mount), as CI runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from stacks.storage import HOME_DEVICE
from workbench.config import WorkbenchConfig
from workbench.render import ASSETS, render_bundle

pytestmark = pytest.mark.live

VOLUME_ID = "vol-0123456789abcdef0"
NVME_LINK = "nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0"
MIB = 1024 * 1024


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=check)


@pytest.fixture(scope="module", autouse=True)
def machine_is_left_alone():
    if os.geteuid() != 0:
        pytest.fail("home-volume tests need root for losetup, mkfs and mount (CI runs as root)")
    before = (Path("/etc/fstab").read_bytes(), sorted(os.listdir("/home")))
    yield
    after = (Path("/etc/fstab").read_bytes(), sorted(os.listdir("/home")))
    assert after == before, "the machine's own /etc/fstab or /home changed"


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> Path:
    """The copy the instance runs: the one in the rendered bundle."""
    return render_bundle(WorkbenchConfig(), tmp_path_factory.mktemp("bundle") / "b") / (
        "home-volume.sh"
    )


class Scene:
    """A temporary root with a loop-device volume and the script's paths pointed into it."""

    def __init__(self, root: Path, script: Path) -> None:
        self.root = root
        self.script = script
        self.home = root / "home"
        self.fstab = root / "fstab"
        self.by_id = root / "by-id"
        self.sys_block = root / "sys-block"
        self.dev_dir = root / "dev"
        self.mkfs_log = root / "mkfs.log"
        self.bin = root / "bin"
        for d in (self.home, self.by_id, self.sys_block, self.dev_dir, self.bin):
            d.mkdir()
        self.fstab.write_text("# the test's fstab\nproc /proc proc defaults 0 0\n")
        real_mkfs = shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:/usr/bin")
        wrapper = self.bin / "mkfs.ext4"
        wrapper.write_text(f'#!/bin/sh\necho "$*" >>{self.mkfs_log}\nexec {real_mkfs} "$@"\n')
        wrapper.chmod(0o755)
        self.image = root / "volume.img"
        with self.image.open("wb") as f:
            f.truncate(64 * MIB)
        self.device = sh("losetup", "--find", "--show", str(self.image)).stdout.strip()
        self.attach_device = str(self.dev_dir / HOME_DEVICE.rsplit("/", 1)[1])

    def attach_nitro(self) -> None:
        """What udev does on a Nitro instance: a by-id link named after the volume ID."""
        (self.by_id / NVME_LINK).symlink_to(self.device)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PATH": f"{self.bin}:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME_ROOT": str(self.home),
            "FSTAB": str(self.fstab),
            "BY_ID_DIR": str(self.by_id),
            "SYS_BLOCK": str(self.sys_block),
            "DEV_DIR": str(self.dev_dir),
            "LOCK_FILE": str(self.root / "lock"),
            "TMPDIR": str(self.root),
            "WORKBENCH_HOME_VOLUME_ID": VOLUME_ID,
            "WORKBENCH_HOME_DEVICE": self.attach_device,
        }

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(self.script), *args],
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def mount(self) -> subprocess.CompletedProcess:
        result = self.run("mount")
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def mkfs_calls(self) -> list[str]:
        return self.mkfs_log.read_text().splitlines() if self.mkfs_log.exists() else []

    def probe(self, key: str) -> str:
        return sh("blkid", "-p", "-o", "value", "-s", key, self.device, check=False).stdout.strip()

    def mounted_from(self) -> str:
        found = sh("findmnt", "-n", "-o", "SOURCE", "--mountpoint", str(self.home), check=False)
        return found.stdout.strip()

    def digest(self) -> str:
        """The volume's bytes as the kernel sees them (through the block device)."""
        with open(self.device, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def fstab_lines_for_home(self) -> list[str]:
        return [
            line
            for line in self.fstab.read_text().splitlines()
            if not line.startswith("#") and line.split()[1:2] == [str(self.home)]
        ]

    def unmount(self) -> None:
        while os.path.ismount(self.home):
            sh("umount", str(self.home))

    def teardown(self) -> None:
        targets = sh("findmnt", "-n", "-o", "TARGET", "-S", self.device, check=False).stdout
        for target in [str(self.home), *targets.split()]:
            while os.path.ismount(target):
                if sh("umount", target, check=False).returncode:
                    sh("umount", "-l", target, check=False)
        sh("losetup", "-d", self.device, check=False)


@pytest.fixture
def scene(tmp_path, script):
    s = Scene(tmp_path, script)
    yield s
    s.teardown()


def make_tree(root: Path, files: dict[str, tuple[str, int, int]]) -> None:
    """files: relative path -> (content, mode, uid); parent directories get the file's owner."""
    for rel, (content, mode, uid) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(mode)
        os.chown(path, uid, uid)
        for parent in path.relative_to(root).parents:
            if str(parent) != ".":
                os.chown(root / parent, uid, uid)


INSTANCE_HOME = {
    "ubuntu/.ssh/authorized_keys": ("ssh-ed25519 AAAA first-instance\n", 0o600, 1000),
    "workbench/notebooks/penguins.ipynb": ('{"cells": []}\n', 0o644, 1001),
    "workbench/.bashrc": ("export EDITOR=nano\n", 0o644, 1001),
}


def snapshot_tree(root: Path) -> dict[str, tuple]:
    """Every entry under root: type, mode, owner and content or link target."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel.startswith(("lost+found", ".workbench-home")):
            continue
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            found[rel] = ("link", os.readlink(path), st.st_uid)
        elif stat.S_ISDIR(st.st_mode):
            found[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid)
        else:
            found[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_uid, path.read_bytes())
    return found


def test_first_run_formats_and_moves_home_and_a_rerun_changes_nothing(scene):
    make_tree(scene.home, INSTANCE_HOME)
    (scene.home / "workbench" / "latest").symlink_to("notebooks/penguins.ipynb")
    scene.home.joinpath("ubuntu/.ssh").chmod(0o700)
    original = snapshot_tree(scene.home)
    scene.attach_nitro()

    scene.mount()
    (call,) = scene.mkfs_calls()
    assert call.split()[-1] == scene.device and "-L workbench-home" in call
    uuid = scene.probe("UUID")
    assert scene.mounted_from() == scene.device
    assert scene.fstab_lines_for_home() == [f"UUID={uuid} {scene.home} ext4 defaults,nofail 0 2"]
    assert scene.fstab.read_text().startswith("# the test's fstab\nproc /proc proc")
    assert snapshot_tree(scene.home) == original, "owners, modes, links and contents moved as-is"

    work = scene.home / "workbench" / "notebooks" / "results.csv"
    work.write_text("species,mass\nAdelie,3700\n")
    fstab = scene.fstab.read_bytes()
    rerun = scene.mount()
    assert len(scene.mkfs_calls()) == 1, "the second run must not format"
    assert scene.probe("UUID") == uuid
    assert work.read_text() == "species,mass\nAdelie,3700\n"
    assert scene.fstab.read_bytes() == fstab
    assert "already on" in rerun.stdout

    # Moved, not copied: the root volume's /home is empty beneath the mount.
    scene.unmount()
    assert list(scene.home.iterdir()) == []
    # A reboot (or a start after an idle stop) mounts the same data, formatting nothing.
    scene.mount()
    assert work.read_text() == "species,mass\nAdelie,3700\n"
    assert len(scene.mkfs_calls()) == 1


def test_a_replacement_instance_mounts_the_same_data_untouched(scene):
    make_tree(scene.home, INSTANCE_HOME)
    scene.attach_nitro()
    scene.mount()
    work = scene.home / "workbench" / "notebooks" / "penguins.ipynb"
    work.write_text('{"cells": ["my analysis"]}\n')
    uuid = scene.probe("UUID")

    # The new instance: its own fresh /home (a different key, a user the volume has not seen)
    # and an fstab that knows nothing of the volume.
    scene.unmount()
    make_tree(
        scene.home,
        {
            "ubuntu/.ssh/authorized_keys": ("ssh-ed25519 AAAA second-instance\n", 0o600, 1000),
            "workbench/notebooks/penguins.ipynb": ('{"cells": []}\n', 0o644, 1001),
            "newcomer/README": ("hello\n", 0o644, 1002),
        },
    )
    scene.fstab.write_text("# a new instance\n")
    scene.mount()
    assert len(scene.mkfs_calls()) == 1
    assert scene.probe("UUID") == uuid
    assert work.read_text() == '{"cells": ["my analysis"]}\n', "the volume's files win"
    assert (scene.home / "ubuntu/.ssh/authorized_keys").read_text() == (
        "ssh-ed25519 AAAA first-instance\n"
    )
    assert (scene.home / "newcomer/README").read_text() == "hello\n", "missing homes are added"
    assert (scene.home / "newcomer").stat().st_uid == 1002
    assert scene.fstab_lines_for_home() == [f"UUID={uuid} {scene.home} ext4 defaults,nofail 0 2"]
    scene.unmount()
    assert list(scene.home.iterdir()) == []


@pytest.mark.parametrize("fstype", ["ext4", "ext2"])
def test_a_volume_that_holds_a_filesystem_with_data_is_never_formatted(scene, fstype):
    # Someone's existing volume (say, restored from a snapshot): made here, not by the script.
    sh(f"/usr/sbin/mkfs.{fstype}", "-q", scene.device)
    elsewhere = scene.root / "elsewhere"
    elsewhere.mkdir()
    sh("mount", scene.device, str(elsewhere))
    make_tree(
        elsewhere,
        {
            "workbench/thesis.Rmd": ("# Chapter 1\n", 0o644, 1001),
            "ubuntu/.profile": ("# from the volume\n", 0o644, 1000),
        },
    )
    sh("umount", str(elsewhere))
    uuid = scene.probe("UUID")
    make_tree(scene.home, {"ubuntu/.profile": ("# from the instance\n", 0o644, 1000)})
    scene.attach_nitro()

    scene.mount()
    assert scene.mkfs_calls() == []
    assert scene.probe("UUID") == uuid
    assert (scene.home / "workbench/thesis.Rmd").read_text() == "# Chapter 1\n"
    assert (scene.home / "ubuntu/.profile").read_text() == "# from the volume\n"
    assert scene.fstab_lines_for_home() == [
        f"UUID={uuid} {scene.home} {fstype} defaults,nofail 0 2"
    ]
    assert not (scene.home / ".workbench-home").exists(), "not our volume: no marker written"


def write_mbr(device: str) -> None:
    """A DOS partition table with one Linux partition, and no filesystem anywhere."""
    with open(device, "r+b") as f:
        f.seek(446)
        f.write(bytes([0x80, 0, 2, 0, 0x83, 0, 0, 0]) + (2048).to_bytes(4, "little"))
        f.write((8192).to_bytes(4, "little"))
        f.seek(510)
        f.write(b"\x55\xaa")
        f.flush()
        os.fsync(f.fileno())


@pytest.mark.parametrize("content", ["swap", "partition table"])
def test_a_volume_with_something_else_on_it_is_refused(scene, content):
    if content == "swap":
        sh("mkswap", scene.device)
    else:
        write_mbr(scene.device)
    make_tree(scene.home, INSTANCE_HOME)
    before_home = snapshot_tree(scene.home)
    before_fstab = scene.fstab.read_bytes()
    digest = scene.digest()
    scene.attach_nitro()

    result = scene.run("mount")
    assert result.returncode != 0
    (line,) = result.stderr.splitlines()
    assert f"error: {scene.device} holds" in line and "refusing to format or mount it" in line
    assert scene.mkfs_calls() == []
    assert scene.digest() == digest
    assert not os.path.ismount(scene.home)
    assert snapshot_tree(scene.home) == before_home
    assert scene.fstab.read_bytes() == before_fstab


@pytest.mark.parametrize("how", ["nvme by-id link", "nvme serial in sysfs", "sdf", "xvdf"])
def test_the_volume_is_found_by_its_id_or_its_attachment_name(scene, how):
    if how == "nvme by-id link":
        scene.attach_nitro()
    elif how == "nvme serial in sysfs":
        # The controller's serial is padded with spaces, as the kernel shows it.
        disk = scene.sys_block / "nvme1n1"
        (disk / "device").mkdir(parents=True)
        (disk / "device" / "serial").write_text("vol0123456789abcdef0      \n")
        (scene.dev_dir / "nvme1n1").symlink_to(scene.device)
        decoy = scene.sys_block / "nvme0n1"
        (decoy / "device").mkdir(parents=True)
        (decoy / "device" / "serial").write_text("vol0fedcba987654321      \n")
    elif how == "sdf":
        Path(scene.attach_device).symlink_to(scene.device)
    else:
        (scene.dev_dir / "xvdf").symlink_to(scene.device)
    result = scene.run("device")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == scene.device


def test_an_unattached_volume_is_not_found(scene):
    (scene.by_id / "nvme-Amazon_Elastic_Block_Store_vol0fedcba987654321").symlink_to(scene.device)
    result = scene.run("device")
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"volume {VOLUME_ID} is not attached" in result.stderr


def test_mount_waits_for_a_volume_attached_after_it_started(scene):
    # Provisioning reaches the home step before CloudFormation has attached the volume.
    make_tree(scene.home, INSTANCE_HOME)
    env = {**scene.env(), "DEVICE_WAIT_SECONDS": "60", "DEVICE_POLL_SECONDS": "1"}
    process = subprocess.Popen(
        ["bash", str(scene.script), "mount"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stderr.readline()
        assert f"waiting up to 60 s for volume {VOLUME_ID}" in first, first
        assert not os.path.ismount(scene.home) and scene.mkfs_calls() == []
        time.sleep(2.5)
        scene.attach_nitro()
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stdout + stderr
    waited = int(re.search(r"appeared after about (\d+) s", stderr).group(1))
    assert waited >= 2
    assert scene.mounted_from() == scene.device
    assert len(scene.mkfs_calls()) == 1
    assert (scene.home / "workbench/.bashrc").read_text() == "export EDITOR=nano\n"


def test_a_volume_that_never_appears_fails_within_the_bound(scene):
    make_tree(scene.home, INSTANCE_HOME)
    before_home = snapshot_tree(scene.home)
    before_fstab = scene.fstab.read_bytes()
    env = {**scene.env(), "DEVICE_WAIT_SECONDS": "3", "DEVICE_POLL_SECONDS": "1"}
    started = time.monotonic()
    result = scene.run("mount", env=env)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    *_, error = result.stderr.splitlines()
    assert (
        f"error: volume {VOLUME_ID} (attachment {scene.attach_device}) did not appear within 3 s"
        in error
    )
    # It did wait (3 polls, 1 s apart), and gave up: far sooner than the test's own timeout.
    assert 3 <= elapsed < 60, elapsed
    assert scene.mkfs_calls() == [] and not os.path.ismount(scene.home)
    assert snapshot_tree(scene.home) == before_home
    assert scene.fstab.read_bytes() == before_fstab


@pytest.mark.parametrize(
    ("wait", "poll"), [("5m", "2"), ("300", "0"), ("-1", "2")], ids=["unit", "zero", "negative"]
)
def test_a_bad_wait_bound_is_refused_in_one_line(scene, wait, poll):
    scene.attach_nitro()
    env = {**scene.env(), "DEVICE_WAIT_SECONDS": wait, "DEVICE_POLL_SECONDS": poll}
    result = scene.run("mount", env=env)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert "DEVICE_WAIT_SECONDS and DEVICE_POLL_SECONDS must be whole seconds" in line
    assert f"'{wait}' and '{poll}'" in line
    assert scene.mkfs_calls() == []


def grow_volume(scene: Scene, size: int) -> None:
    """What raising home_volume_gb does: EBS grows the volume in place."""
    with scene.image.open("r+b") as f:
        f.truncate(size)
    sh("losetup", "-c", scene.device)


def test_the_filesystem_grows_to_fill_a_larger_volume(scene):
    # E.g. a restore into a volume larger than its snapshot, mounted by a new instance.
    scene.attach_nitro()
    scene.mount()
    (scene.home / "kept.txt").write_text("still here\n")
    before = os.statvfs(scene.home)
    scene.unmount()
    grow_volume(scene, 160 * MIB)
    scene.mount()
    after = os.statvfs(scene.home)
    assert after.f_blocks * after.f_frsize > 2 * before.f_blocks * before.f_frsize
    assert (scene.home / "kept.txt").read_text() == "still here\n"
    assert len(scene.mkfs_calls()) == 1

    # Mounted, the filesystem grows online. This sandbox denies CAP_SYS_RESOURCE, which the
    # kernel's online resize needs (EPERM), so only this is checked here: growing never fails
    # the mount and never touches the data.
    grow_volume(scene, 200 * MIB)
    result = scene.mount()
    assert "grew the filesystem" in result.stdout or "could not grow" in result.stdout
    assert (scene.home / "kept.txt").read_text() == "still here\n"


def test_home_volume_script_passes_shellcheck():
    result = sh("shellcheck", str(ASSETS / "home-volume.sh"), check=False)
    assert result.returncode == 0, result.stdout
