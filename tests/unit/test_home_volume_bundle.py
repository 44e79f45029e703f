"""The /home mount script travels in the bundle, and the bootstrap tells it which volume is its."""

from __future__ import annotations

from tests.unit.provision_sandbox import bootstrap_script, deployment_record
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


def test_the_deployment_names_the_volume_and_the_bootstrap_makes_bundle_scripts_executable():
    record = deployment_record(home_volume_id="vol-0123456789abcdef0", home_device="/dev/sdf")
    assert "WORKBENCH_HOME_VOLUME_ID='vol-0123456789abcdef0'" in record.splitlines()
    assert "WORKBENCH_HOME_DEVICE='/dev/sdf'" in record.splitlines()
    # python -m zipfile drops file modes; the bootstrap runs provision.sh directly.
    assert 'chmod 0755 "$BUNDLE_DIR.new"/*.sh' in bootstrap_script()


def test_bundle_carries_the_identity_script_unchanged_and_executable(tmp_path):
    bundle = render_bundle(WorkbenchConfig(), tmp_path / "bundle")
    shipped = bundle / "identity.sh"
    assert shipped.read_bytes() == (ASSETS / "identity.sh").read_bytes()
    assert shipped.stat().st_mode & 0o777 == 0o755
