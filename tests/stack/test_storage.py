"""Policies on users' /home volume: encrypted gp3 in the instance's zone, attached by the instance
itself (no attachment resource), kept as a snapshot when the stack goes, pinned so that no
refactoring replaces it."""

from __future__ import annotations

import json

from stacks.server import INSTANCE_LOGICAL_ID
from stacks.storage import HOME_DEVICE, HOME_VOLUME_LOGICAL_ID
from tests.stack.template import deployment_record, resources


def home_volume(template: dict) -> dict:
    return template["Resources"][HOME_VOLUME_LOGICAL_ID]


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


def test_the_instance_attaches_the_volume_itself(synthesized):
    # An attachment resource would be replaced with the instance, and CloudFormation creates the
    # new one while the old instance still holds the volume: EC2 refuses (VolumeInUse).
    _, template = synthesized("default")
    assert resources(template, "AWS::EC2::VolumeAttachment") == {}
    instance = template["Resources"][INSTANCE_LOGICAL_ID]["Properties"]
    assert "Volumes" not in instance, "the instance must not own the /home volume"
    assert [m["DeviceName"] for m in instance["BlockDeviceMappings"]] == ["/dev/sda1"]


def test_destroy_and_replacement_leave_a_snapshot(synthesized):
    for context in ("default", "restore"):
        _, template = synthesized(context)
        volume = home_volume(template)
        assert volume["DeletionPolicy"] == "Snapshot", context
        assert volume["UpdateReplacePolicy"] == "Snapshot", context


def test_destroy_never_detaches_a_mounted_home(synthesized):
    # The instance goes first: its termination shuts the system down and frees the volume, which
    # CloudFormation then snapshots. A DetachVolume on mounted /home could hang.
    _, template = synthesized("default")
    assert HOME_VOLUME_LOGICAL_ID in template["Resources"][INSTANCE_LOGICAL_ID]["DependsOn"]


def test_home_logical_ids_are_pinned(synthesized):
    _, template = synthesized("default")
    assert template["Resources"]["WorkbenchHomeVolume"]["Type"] == "AWS::EC2::Volume"


def test_the_deployment_names_the_volume_without_a_dependency_cycle(synthesized):
    _, template = synthesized("default")
    # The volume must not depend on the instance: the instance reads the record that names it.
    assert INSTANCE_LOGICAL_ID not in json.dumps(home_volume(template))
    parts = deployment_record(template)
    at = parts.index({"Ref": HOME_VOLUME_LOGICAL_ID})
    assert parts[at - 1].endswith("\nWORKBENCH_HOME_VOLUME_ID='")
    assert parts[at + 1].startswith(f"'\nWORKBENCH_HOME_DEVICE='{HOME_DEVICE}'\n")


def test_restore_creates_the_volume_from_the_snapshot(synthesized):
    _, default = synthesized("default")
    _, restore = synthesized("restore")
    assert "SnapshotId" not in home_volume(default)["Properties"]
    assert home_volume(restore)["Properties"]["SnapshotId"] == "snap-0123456789abcdef0"


def test_home_volume_id_is_an_output(synthesized):
    _, template = synthesized("default")
    assert template["Outputs"]["HomeVolumeId"]["Value"] == {"Ref": HOME_VOLUME_LOGICAL_ID}
