"""Second deploys, replayed against the emulator: its CloudFormation update engine (AWS's order:
new resources first, the old ones deleted at cleanup, a failure rolled back), EC2's rules that
moto lacks (a volume in use cannot be attached), and an instance agent that runs, on each
emulated instance, the stack's own user data and bootstrap with the real identity.sh and the real
AWS CLI against a ThreadedMotoServer (tests/aws/instance_agent.py).

- a bundle-only change reaches the running instance without a stop: the association runs the new
  revision on it, and the deploy waits on the new wait condition, signalled from that run;
- a new image replaces the instance: the new one takes /home and the Elastic IP over from the old
  one while the emulator refuses any attach of a volume in use, the old one is gone, and the
  deploy waited on the new instance's signal;
- the new instance's provisioning fails: the update rolls back, and the old instance serves again
  with /home and the address;
- the template does not depend on the image parameter's value, and a launch uses its value then.
"""

from __future__ import annotations

import json
import subprocess

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.ec2.models import ec2_backends
from moto.server import ThreadedMotoServer

from stacks.readiness import READY_HANDLE_LOGICAL_ID_PREFIX, READY_LOGICAL_ID_PREFIX
from stacks.server import INSTANCE_LOGICAL_ID
from stacks.storage import HOME_VOLUME_LOGICAL_ID
from tests.aws import deployment
from tests.aws.deployment import STACK, cfn, events, stack_state
from tests.aws.instance_agent import InstanceAgent, bundle_zip, environment_for_cli
from tests.stack.template import bundle_key, revision_of
from tests.synth import ROOT
from workbench.config import UBUNTU_AMI_PARAMETERS
from workbench.local.emulator import (
    REGION,
    agent,
    ec2,
    images,
    register_missing_models,
    seed_ssm,
    signals,
)
from workbench.local.emulator.models.association import ASSOCIATIONS
from workbench.local.emulator.models.instance import EmulatedInstance
from workbench.local.runner import free_port

AWSCLI = ROOT / ".venv-awscli" / "bin" / "python"
ASSET_BUCKET = "cdk-hnb659fds-assets-123456789012-us-east-1"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """One ThreadedMotoServer and one warm AWS CLI for the file."""
    assert AWSCLI.exists(), "make setup installs the AWS CLI into .venv-awscli"
    register_missing_models()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    socket_path = str(tmp_path_factory.mktemp("cli") / "aws.sock")
    cli = subprocess.Popen(
        [str(AWSCLI), str(ROOT / "tests/aws/cli/server.py"), socket_path],
        env=environment_for_cli(f"http://127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL,
    )
    try:
        # Not waited for: it warms up (a few seconds) while the first templates synthesize; the
        # `aws` client waits for its socket.
        yield socket_path
    finally:
        cli.terminate()
        cli.wait(10)
        server.stop()
        signals.stop()


@pytest.fixture
def instances(emulator, aws, tmp_path):
    """The instance agent, registered for one test; the asset bucket holds the stand-in bundle
    under every template's bundle key."""
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=ASSET_BUCKET)
    running = InstanceAgent(tmp_path / "instances", emulator)
    agent.register_agent(running)
    ec2.clear_journal()
    ASSOCIATIONS.clear()
    try:
        yield running
    finally:
        agent.wait_idle()
        agent.register_agent(None)
        running.stop()


def publish_bundle(template: dict) -> None:
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=ASSET_BUCKET, Key=bundle_key(template), Body=bundle_zip()
    )


def deploy(template: dict, *, publish: bool = True) -> dict:
    if publish:
        publish_bundle(template)
    state = deployment.deploy(template)
    agent.wait_idle()
    return state


def update(template: dict) -> dict:
    publish_bundle(template)
    cfn().update_stack(
        StackName=STACK, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
    )
    state = stack_state()
    agent.wait_idle()
    return state


def readiness(state: dict) -> tuple[str, str]:
    (handle,) = [k for k in state["physical"] if k.startswith(READY_HANDLE_LOGICAL_ID_PREFIX)]
    condition = READY_LOGICAL_ID_PREFIX + handle.removeprefix(READY_HANDLE_LOGICAL_ID_PREFIX)
    return handle, condition


def signals_at(state: dict) -> list[dict]:
    """What the stack's current wait condition handle received."""
    from urllib.parse import urlsplit

    handle, _ = readiness(state)
    return signals.SIGNALS.received(urlsplit(state["physical"][handle]).path)


def holders(ec2_client, state: dict) -> tuple[str | None, str | None]:
    """(instance holding /home's volume, instance holding the Elastic IP)."""
    (volume,) = ec2_client.describe_volumes(VolumeIds=[state["physical"][HOME_VOLUME_LOGICAL_ID]])[
        "Volumes"
    ]
    attached = [a["InstanceId"] for a in volume["Attachments"] if a["State"] == "attached"]
    (address,) = ec2_client.describe_addresses()["Addresses"]
    return (attached[0] if attached else None), address.get("InstanceId")


def placement(ec2_client, instance_id: str) -> dict:
    (reservation,) = ec2_client.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return {"AvailabilityZone": reservation["Instances"][0]["Placement"]["AvailabilityZone"]}


def instance_state(ec2_client, instance_id: str) -> str:
    (reservation,) = ec2_client.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservation["Instances"][0]["State"]["Name"]


def test_a_bundle_only_change_reaches_the_running_instance_without_a_stop(
    aws, instances, synthesized
):
    _, first = synthesized("default")
    _, then = synthesized("api")
    before = deploy(first)
    instance_id = before["physical"][INSTANCE_LOGICAL_ID]
    assert holders(aws, before) == (instance_id, instance_id), "the first boot took both"
    ec2.clear_journal()

    after = update(then)
    assert after["status"] == "UPDATE_COMPLETE", events()
    assert after["physical"][INSTANCE_LOGICAL_ID] == instance_id, "the same instance"
    assert ec2.journal("StopInstances", "StartInstances", "RunInstances") == [], "never stopped"
    # The association ran the new revision on it, and that run applied it.
    (association,) = ASSOCIATIONS.values()
    assert association.version == 2
    assert association.runs[-1].instance_ids == (instance_id,)
    assert association.runs[-1].commands[0].endswith(f"apply {revision_of(then)}")
    (applied,) = instances.runs_of(instance_id, "association")[-1:]
    assert applied.returncode == 0, applied.output
    assert f"revision {revision_of(then)} applied" in applied.output
    # The deploy waited on the new wait condition, which that run signalled.
    assert readiness(after) != readiness(before)
    assert [(s["Status"], s["Data"]) for s in signals_at(after)] == [("SUCCESS", instance_id)]
    assert holders(aws, after) == (instance_id, instance_id)


def test_a_new_image_replaces_the_instance_which_takes_home_and_the_address_over(
    aws, instances, synthesized
):
    _, first = synthesized("default")
    _, then = synthesized("pinned")
    before = deploy(first)
    old = before["physical"][INSTANCE_LOGICAL_ID]
    ec2.clear_journal()

    after = update(then)
    assert after["status"] == "UPDATE_COMPLETE", events()
    new = after["physical"][INSTANCE_LOGICAL_ID]
    assert new != old
    assert instance_state(aws, old) == "terminated", "the cleanup phase deleted the old one"
    assert holders(aws, after) == (new, new), "/home and the Elastic IP are the new instance's"
    assert after["outputs"]["PublicIp"] == before["outputs"]["PublicIp"], "the same address"
    (reservation,) = aws.describe_instances(InstanceIds=[new])["Reservations"]
    assert reservation["Instances"][0]["ImageId"] == "ami-0123456789abcdef0"
    # The takeover, as EC2 saw it: the old instance stopped before /home's volume moved.
    home = after["physical"][HOME_VOLUME_LOGICAL_ID]
    moves = [
        (e.operation, e.resource if e.operation.endswith("Instances") else e.detail)
        for e in ec2.journal("StopInstances", "DetachVolume", "AttachVolume", "AssociateAddress")
        if e.operation in ("StopInstances", "AssociateAddress") or e.resource == home
    ]
    assert moves == [
        ("StopInstances", old),
        ("DetachVolume", old),
        ("AttachVolume", new),
        ("AssociateAddress", new),
    ]
    # The deploy waited on the new readiness, signalled by the new instance.
    assert readiness(after) != readiness(before)
    assert [(s["Status"], s["Data"]) for s in signals_at(after)] == [("SUCCESS", new)]
    took = [
        r for r in instances.runs_of(new) if f"attached to {old}, the instance this" in r.output
    ]
    assert took and all(r.returncode == 0 for r in took), instances.runs_of(new)
    # EC2's rule, which moto lacks: a volume attached elsewhere is not attached again.
    spare = aws.run_instances(
        ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1, Placement=placement(aws, new)
    )["Instances"][0]["InstanceId"]
    with pytest.raises(ClientError, match="VolumeInUse"):
        aws.attach_volume(VolumeId=home, InstanceId=spare, Device="/dev/sdg")


def test_a_failed_replacement_rolls_back_and_the_old_instance_serves_again(
    aws, instances, synthesized
):
    _, first = synthesized("default")
    _, then = synthesized("pinned")
    before = deploy(first)
    old = before["physical"][INSTANCE_LOGICAL_ID]
    instances.fail_revisions.add(revision_of(then))

    after = update(then)
    assert after["status"] == "UPDATE_ROLLBACK_COMPLETE", events()
    failed = [reason for _, status, reason in events() if status == "CREATE_FAILED"]
    assert failed == [
        "WaitCondition received failed message: 'step nginx failed (exit 1)' for uniqueId: "
        "step-nginx-failed"
    ]
    assert after["physical"][INSTANCE_LOGICAL_ID] == old
    assert after["outputs"]["InstanceId"] == old
    (new,) = [
        i["InstanceId"]
        for r in aws.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["InstanceId"] != old
    ]
    assert instance_state(aws, new) == "terminated", "the rollback deleted the new instance"
    # Handed back before the report: the old instance runs again with /home and the address.
    assert instance_state(aws, old) == "running"
    assert holders(aws, after) == (old, old)
    starts = [e.resource for e in ec2.journal("StartInstances")]
    assert starts == [old]
    assert any(f"started {old}: the old workbench serves" in r.output for r in instances.runs)
    reboot = instances.runs_of(old, "boot")[-1]
    assert reboot.returncode == 0, reboot.output
    assert "bundle in place" in reboot.output, "the old instance provisions as after any boot"
    # The association targets the old instance with the old revision again.
    (association,) = ASSOCIATIONS.values()
    assert association.runs[-1].instance_ids == (old,)
    assert association.runs[-1].commands[0].endswith(f"apply {revision_of(first)}")
    assert cfn().get_template(StackName=STACK)["TemplateBody"] == first


def test_the_template_does_not_depend_on_the_image_parameters_value(aws, synthesized):
    _, template = synthesized("default")
    ssm = boto3.client("ssm", region_name=REGION)
    name = UBUNTU_AMI_PARAMETERS["24.04"]
    first_image = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    state = deploy(template, publish=False)  # no agent: nothing runs on the instance
    instance_id = state["physical"][INSTANCE_LOGICAL_ID]
    (reservation,) = aws.describe_instances(InstanceIds=[instance_id])["Reservations"]
    assert reservation["Instances"][0]["ImageId"] == first_image, "launched from the parameter"
    # Canonical publishes: the parameter's value changes, the template does not, and
    # CloudFormation has nothing to update (no replacement).
    newer = next(i for i in images(2) if i != first_image)
    seed_ssm(newer)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == newer
    with pytest.raises(ClientError, match="No updates are to be performed"):
        cfn().update_stack(StackName=STACK, TemplateBody=json.dumps(template))
    assert stack_state()["physical"][INSTANCE_LOGICAL_ID] == instance_id


def test_an_instance_type_change_stops_and_starts_the_same_instance(aws):
    ec2.clear_journal()
    (image,) = images(1)
    (launched,) = aws.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"]
    instance = ec2_backends["123456789012"][REGION].get_instance(launched["InstanceId"])
    old = {"ImageId": image, "InstanceType": "t3.medium", "UserData": "eA=="}
    for new, restarts in (
        ({**old, "InstanceType": "t3.large"}, True),  # some interruptions
        ({**old, "Tags": [{"Key": "a", "Value": "b"}]}, False),  # none
    ):
        assert not EmulatedInstance.replaces(old, new)
        ec2.clear_journal()
        EmulatedInstance.update_in_place(instance, old, new, "123456789012", REGION)
        operations = [e.operation for e in ec2.journal("StopInstances", "StartInstances")]
        assert operations == (["StopInstances", "StartInstances"] if restarts else [])
    assert EmulatedInstance.replaces(old, {**old, "ImageId": "ami-0123456789abcdef0"})
    assert EmulatedInstance.replaces(old, {**old, "KeyName": "other"})
    assert instance_state(aws, instance.id) == "running"
