"""Policies on users' /home volume: encrypted gp3 in the instance's zone, attached by its own
resource, kept as a snapshot when the stack goes, pinned so that no refactoring replaces it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from stacks.server import INSTANCE_LOGICAL_ID
from stacks.storage import HOME_ATTACHMENT_LOGICAL_ID, HOME_DEVICE, HOME_VOLUME_LOGICAL_ID
from tests.synth import ROOT


def resources(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def home_volume(template: dict) -> dict:
    return template["Resources"][HOME_VOLUME_LOGICAL_ID]


def user_data_parts(template: dict) -> list:
    joined = template["Resources"][INSTANCE_LOGICAL_ID]["Properties"]["UserData"]["Fn::Base64"]
    return joined["Fn::Join"][1]


def test_home_is_one_encrypted_gp3_volume_of_home_volume_gb(synthesized):
    for context in ("default", "restore"):
        config, template = synthesized(context)
        assert list(resources(template, "AWS::EC2::Volume")) == [HOME_VOLUME_LOGICAL_ID], context
        props = home_volume(template)["Properties"]
        assert props["Encrypted"] is True, context
        assert props["VolumeType"] == "gp3", context
        assert props["Size"] == config.home_volume_gb, context
        assert props["Tags"] == [{"Key": "Name", "Value": f"{config.stack_name}-home"}]


def test_home_volume_is_in_the_instances_availability_zone(synthesized):
    _, template = synthesized("default")
    instance = template["Resources"][INSTANCE_LOGICAL_ID]["Properties"]
    (interface,) = instance["NetworkInterfaces"]
    subnet = template["Resources"][interface["SubnetId"]["Ref"]]["Properties"]
    zone = home_volume(template)["Properties"]["AvailabilityZone"]
    assert zone == subnet["AvailabilityZone"] == instance["AvailabilityZone"]


def test_home_volume_has_its_own_attachment(synthesized):
    _, template = synthesized("default")
    attachments = resources(template, "AWS::EC2::VolumeAttachment")
    assert list(attachments) == [HOME_ATTACHMENT_LOGICAL_ID]
    assert attachments[HOME_ATTACHMENT_LOGICAL_ID]["Properties"] == {
        "Device": HOME_DEVICE,
        "InstanceId": {"Ref": INSTANCE_LOGICAL_ID},
        "VolumeId": {"Ref": HOME_VOLUME_LOGICAL_ID},
    }
    instance = template["Resources"][INSTANCE_LOGICAL_ID]["Properties"]
    assert "Volumes" not in instance, "the instance must not own the /home volume"
    assert [m["DeviceName"] for m in instance["BlockDeviceMappings"]] == ["/dev/sda1"]


def test_home_is_attached_while_the_instance_provisions(synthesized):
    # The attachment waits only for the instance to exist, never for provisioning: the deploy's
    # readiness is a wait condition that comes after the attachment, not a creation policy.
    _, template = synthesized("default")
    attachment = template["Resources"][HOME_ATTACHMENT_LOGICAL_ID]
    assert "DependsOn" not in attachment
    assert "CreationPolicy" not in template["Resources"][INSTANCE_LOGICAL_ID]
    (condition,) = resources(template, "AWS::CloudFormation::WaitCondition").values()
    assert HOME_ATTACHMENT_LOGICAL_ID in condition["DependsOn"]


def test_destroy_and_replacement_leave_a_snapshot(synthesized):
    for context in ("default", "restore"):
        _, template = synthesized(context)
        volume = home_volume(template)
        assert volume["DeletionPolicy"] == "Snapshot", context
        assert volume["UpdateReplacePolicy"] == "Snapshot", context


def test_destroy_never_detaches_a_mounted_home(synthesized):
    # The instance's termination frees the volume; a DetachVolume on mounted /home can hang.
    _, template = synthesized("default")
    attachment = template["Resources"][HOME_ATTACHMENT_LOGICAL_ID]
    assert attachment["DeletionPolicy"] == "Retain"
    # The volume goes after the instance: the instance depends on it (its user data names it).
    assert {"Ref": HOME_VOLUME_LOGICAL_ID} in user_data_parts(template)


def test_home_logical_ids_are_pinned(synthesized):
    _, template = synthesized("default")
    assert template["Resources"]["WorkbenchHomeVolume"]["Type"] == "AWS::EC2::Volume"
    assert template["Resources"]["WorkbenchHomeAttachment"]["Type"] == (
        "AWS::EC2::VolumeAttachment"
    )


def test_user_data_names_the_volume_without_a_dependency_cycle(synthesized):
    _, template = synthesized("default")
    # The volume must not depend on the instance: the instance's user data refers to the volume.
    assert INSTANCE_LOGICAL_ID not in json.dumps(home_volume(template))
    parts = user_data_parts(template)
    at = parts.index({"Ref": HOME_VOLUME_LOGICAL_ID})
    assert parts[at - 1].endswith("\nWORKBENCH_HOME_VOLUME_ID=")
    assert parts[at + 1].startswith(f"\nWORKBENCH_HOME_DEVICE={HOME_DEVICE}\n")


def test_restore_creates_the_volume_from_the_snapshot(synthesized):
    _, default = synthesized("default")
    _, restore = synthesized("restore")
    assert "SnapshotId" not in home_volume(default)["Properties"]
    assert home_volume(restore)["Properties"]["SnapshotId"] == "snap-0123456789abcdef0"


def test_home_volume_id_is_an_output(synthesized):
    _, template = synthesized("default")
    assert template["Outputs"]["HomeVolumeId"]["Value"] == {"Ref": HOME_VOLUME_LOGICAL_ID}


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (
            {"home_snapshot_id": "vol-0123456789abcdef0"},
            "error: home_snapshot_id: got 'vol-0123456789abcdef0'; expected an EBS snapshot ID "
            "such as snap-0123456789abcdef0",
        ),
        (
            {"home_volume_gb": "20GB"},
            "error: home_volume_gb: got '20GB'; expected a whole number of GiB from 1 to 16384",
        ),
    ],
)
def test_bad_home_values_stop_synth_with_one_line(tmp_path, context, message):
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": json.dumps(context)}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert not list(tmp_path.glob("*.template.json")), "nothing half-synthesized"
