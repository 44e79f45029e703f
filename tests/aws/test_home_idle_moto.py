"""The /home volume, the address, recovery and the idle stop, deployed into moto's CloudFormation
and seen with boto3.

moto skips AWS::CloudWatch::Alarm and drops a volume's encryption, type, snapshot and tags;
`workbench.local.emulator.register_missing_models` supplies models that keep them (the same emulator
`make local` embeds). What moto cannot show (the snapshot CloudFormation takes on delete) is
checked on the template in tests/stack/test_storage.py.
"""

from __future__ import annotations

import copy

import boto3

from stacks.server import INSTANCE_LOGICAL_ID
from stacks.storage import HOME_DEVICE, HOME_VOLUME_LOGICAL_ID
from tests.aws.deployment import deploy
from workbench.deployment import parameter_name
from workbench.idle import IDLE_CPU_PERCENT
from workbench.local.emulator import REGION


def test_home_volume_is_encrypted_gp3_in_the_instances_zone(aws, synthesized):
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
    # Free for the instance to attach at boot (its identity step): no attachment resource, and
    # no instance agent runs here (tests/aws/test_update.py runs one).
    assert volume["State"] == "available" and volume["Attachments"] == []
    assert {"Key": "Name", "Value": "Workbench-home"} in volume["Tags"]


def test_instance_is_told_its_home_volume_and_address(aws, synthesized):
    _, template = synthesized("default")
    deployed = deploy(template)
    ssm = boto3.client("ssm", region_name=REGION)
    record = ssm.get_parameter(Name=parameter_name("Workbench"))["Parameter"]["Value"]
    volume_id = deployed["physical"][HOME_VOLUME_LOGICAL_ID]
    lines = record.splitlines()
    assert f"WORKBENCH_HOME_VOLUME_ID='{volume_id}'" in lines
    assert f"WORKBENCH_HOME_DEVICE='{HOME_DEVICE}'" in lines
    (address,) = aws.describe_addresses()["Addresses"]
    assert f"WORKBENCH_ADDRESS_ID='{address['AllocationId']}'" in lines
    assert f"WORKBENCH_PUBLIC_IP='{address['PublicIp']}'" in lines
    assert deployed["outputs"]["PublicIp"] == address["PublicIp"]
    assert deployed["outputs"]["LandingUrl"] == f"http://{address['PublicIp']}/"


def alarms_on(metric: str) -> list[dict]:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    return [a for a in cloudwatch.describe_alarms()["MetricAlarms"] if a["MetricName"] == metric]


def test_a_failed_host_recovers_the_deployed_instance(aws, synthesized):
    _, template = synthesized("default")
    deployed = deploy(template)
    instance_id = deployed["physical"][INSTANCE_LOGICAL_ID]
    (alarm,) = alarms_on("StatusCheckFailed_System")
    assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": instance_id}]
    assert alarm["AlarmActions"] == [f"arn:aws:automate:{REGION}:ec2:recover"]
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["Threshold"]) == (60, 2, 1)
    # The instance-level switch, as EC2 reports the instance's launch template.
    ec2 = boto3.client("ec2", region_name=REGION)
    (reservation,) = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    tags = {t["Key"]: t["Value"] for t in reservation["Instances"][0]["Tags"]}
    versions = ec2.describe_launch_template_versions(
        LaunchTemplateId=tags["aws:ec2launchtemplate:id"]
    )["LaunchTemplateVersions"]
    assert versions[-1]["LaunchTemplateData"]["MaintenanceOptions"] == {"AutoRecovery": "default"}


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
    (alarm,) = alarms_on("CPUUtilization")
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
    assert alarms_on("CPUUtilization") == []
    assert len(alarms_on("StatusCheckFailed_System")) == 1, "recovery stays on"
