"""The /home volume and the idle stop, deployed into moto's CloudFormation and seen with boto3.

moto skips AWS::CloudWatch::Alarm and drops a volume's encryption, type, snapshot and tags;
`workbench.local.emulator.register_missing_models` supplies models that keep them (the same emulator
`make local` embeds). What moto cannot show (the snapshot CloudFormation takes on delete) is
checked on the template in tests/stack/test_storage.py.
"""

from __future__ import annotations

import base64
import copy

import boto3

from stacks.server import INSTANCE_LOGICAL_ID
from stacks.storage import HOME_DEVICE, HOME_VOLUME_LOGICAL_ID
from tests.aws.deployment import deploy
from workbench.idle import IDLE_CPU_PERCENT
from workbench.local.emulator import REGION


def test_home_volume_is_encrypted_gp3_attached_in_the_instances_zone(aws, synthesized):
    config, template = synthesized("default")
    deployed = deploy(template)
    volume_id = deployed["physical"][HOME_VOLUME_LOGICAL_ID]
    instance_id = deployed["physical"][INSTANCE_LOGICAL_ID]
    assert deployed["outputs"]["HomeVolumeId"] == volume_id
    (volume,) = aws.describe_volumes(VolumeIds=[volume_id])["Volumes"]
    (reservation,) = aws.describe_instances(InstanceIds=[instance_id])["Reservations"]
    instance = reservation["Instances"][0]
    assert volume["Size"] == config.home_volume_gb
    assert volume["Encrypted"] is True
    assert volume["VolumeType"] == "gp3"
    assert volume["AvailabilityZone"] == instance["Placement"]["AvailabilityZone"]
    assert [(a["InstanceId"], a["Device"], a["State"]) for a in volume["Attachments"]] == [
        (instance_id, HOME_DEVICE, "attached")
    ]
    assert {"Key": "Name", "Value": "Workbench-home"} in volume["Tags"]


def test_instance_is_told_its_home_volume(aws, synthesized):
    _, template = synthesized("default")
    deployed = deploy(template)
    instance_id = deployed["physical"][INSTANCE_LOGICAL_ID]
    attribute = aws.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    script = base64.b64decode(attribute["UserData"]["Value"]).decode()
    volume_id = deployed["physical"][HOME_VOLUME_LOGICAL_ID]
    assert f"\nWORKBENCH_HOME_VOLUME_ID={volume_id}\n" in script
    assert f"\nWORKBENCH_HOME_DEVICE={HOME_DEVICE}\n" in script


def restore_template(ec2, template: dict) -> tuple[dict, str]:
    """The "restore" template, pointed at a snapshot that exists in moto (which makes up IDs)."""
    source = ec2.create_volume(Size=5, AvailabilityZone=f"{REGION}a")
    snapshot_id = ec2.create_snapshot(VolumeId=source["VolumeId"])["SnapshotId"]
    template = copy.deepcopy(template)
    template["Resources"][HOME_VOLUME_LOGICAL_ID]["Properties"]["SnapshotId"] = snapshot_id
    return template, snapshot_id


def test_restore_starts_the_volume_from_the_snapshot(aws, synthesized):
    template, snapshot_id = restore_template(aws, synthesized("restore")[1])
    deployed = deploy(template)
    volume_id = deployed["physical"][HOME_VOLUME_LOGICAL_ID]
    (volume,) = aws.describe_volumes(VolumeIds=[volume_id])["Volumes"]
    assert volume["SnapshotId"] == snapshot_id
    assert volume["Size"] == 50
    assert volume["Encrypted"] is True


def test_idle_alarm_stops_the_deployed_instance(aws, synthesized):
    _, template = synthesized("default")
    deployed = deploy(template)
    instance_id = deployed["physical"][INSTANCE_LOGICAL_ID]
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    (alarm,) = cloudwatch.describe_alarms()["MetricAlarms"]
    assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": instance_id}]
    assert alarm["AlarmActions"] == [f"arn:aws:automate:{REGION}:ec2:stop"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/EC2", "CPUUtilization")
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (300, 12)
    assert alarm["Threshold"] == IDLE_CPU_PERCENT
    assert alarm["ComparisonOperator"] == "LessThanThreshold"


def test_no_alarm_when_the_idle_stop_is_off(aws, synthesized):
    config, template = synthesized("restore")
    assert config.idle_stop_minutes == 0
    deploy(restore_template(aws, template)[0])
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
