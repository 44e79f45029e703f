"""The /home mount script travels in the bundle, and the bootstrap tells it which volume is its."""

from __future__ import annotations

from tests.unit.provision_sandbox import bootstrap_script
from workbench.config import WorkbenchConfig
from workbench.render import _STATIC, ASSETS, render_bundle


def test_bundle_carries_the_home_volume_script_unchanged_and_executable(tmp_path):
    bundle = render_bundle(WorkbenchConfig(), tmp_path / "bundle")
    shipped = bundle / "home-volume.sh"
    assert shipped.read_bytes() == (ASSETS / "home-volume.sh").read_bytes()
    assert shipped.stat().st_mode & 0o777 == 0o755


def test_static_files_keep_their_executable_bit_and_nothing_else(tmp_path):
    bundle = render_bundle(WorkbenchConfig(), tmp_path / "bundle")
    for source, out in _STATIC:
        executable = (ASSETS / source).stat().st_mode & 0o111
        assert (bundle / out).stat().st_mode & 0o777 == (0o755 if executable else 0o644), out


def test_bootstrap_passes_the_volume_and_makes_bundle_scripts_executable():
    text = bootstrap_script(home_volume_id="vol-0123456789abcdef0", home_device="/dev/sdf")
    env_block = text.split("<<'ENV'\n", 1)[1].split("\nENV\n", 1)[0].splitlines()
    assert "WORKBENCH_HOME_VOLUME_ID=vol-0123456789abcdef0" in env_block
    assert "WORKBENCH_HOME_DEVICE=/dev/sdf" in env_block
    # python -m zipfile drops file modes; the bootstrap runs provision.sh directly.
    assert "chmod 0755 /opt/workbench/*.sh" in text
