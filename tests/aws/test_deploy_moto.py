"""Deploy the synthesized template into moto's CloudFormation and look at it as a user's script
would, with boto3. No account, no network.

moto lacks CloudFormation models for AWS::EC2::KeyPair, AWS::SecretsManager::Secret and
AWS::SSM::Association, ignores AWS::CloudFormation::WaitConditionHandle and launches instances
without their network interfaces or a resolved image; `workbench.local.emulator` adds or replaces
them (the same emulator `make local` embeds), so the default configuration, with its generated key
pair, deploys as it is. With no instance agent registered, nothing runs on the emulated instance
and the wait condition completes at once. Updates (in place, replacement, rollback) are replayed
against the emulator's update engine in tests/aws/test_update.py.
"""

from __future__ import annotations

import base64
import re
import shlex
import subprocess

import boto3
import pytest
import yaml

from stacks.network import SECURITY_GROUP_LOGICAL_ID
from stacks.readiness import READY_HANDLE_LOGICAL_ID_PREFIX, READY_LOGICAL_ID_PREFIX
from stacks.server import INSTANCE_LOGICAL_ID
from tests.aws.deployment import KEY_NAME, deploy
from tests.stack.user_data import mime_parts
from workbench.deployment import parameter_name
from workbench.local.emulator import REGION


def ingress_rules(ec2, group_id: str) -> set[tuple]:
    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return {
        (p["IpProtocol"], p["FromPort"], p["ToPort"], r["CidrIp"])
        for p in group["IpPermissions"]
        for r in p["IpRanges"]
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("default", {("tcp", 80, 80, "0.0.0.0/0"), ("tcp", 22, 22, "0.0.0.0/0")}),
        ("restricted", {("tcp", 80, 80, "0.0.0.0/0"), ("tcp", 22, 22, "203.0.113.4/32")}),
        ("closed", {("tcp", 80, 80, "0.0.0.0/0")}),
    ],
)
def test_deployed_security_group_opens_exactly_22_and_80(aws, synthesized, name, expected):
    deployed = deploy(synthesized(name)[1])
    group_id = deployed["physical"][SECURITY_GROUP_LOGICAL_ID]
    assert ingress_rules(aws, group_id) == expected
    assert deployed["outputs"]["SecurityGroupId"] == group_id


def deployed_user_data(aws, instance_id: str) -> str:
    attribute = aws.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    return base64.b64decode(attribute["UserData"]["Value"]).decode()


def test_deployed_instance_carries_the_bootstrap(aws, synthesized):
    deployed = deploy(synthesized("default")[1])
    instance_id = deployed["physical"][INSTANCE_LOGICAL_ID]
    # As cloud-init reads it: a MIME multipart document, cloud-config first, then the bootstrap.
    document = deployed_user_data(aws, instance_id)
    (config_type, cloud_config), (script_type, script) = mime_parts(document)
    assert (config_type, script_type) == ("text/cloud-config", "text/x-shellscript")
    assert ["scripts-user", "always"] in yaml.safe_load(cloud_config)["cloud_final_modules"]
    assert script.startswith("#!/bin/bash\n")
    assert "\nSTACK=Workbench\n" in script
    assert f"\nPARAMETER={parameter_name('Workbench')}\n" in script
    assert script.rstrip().endswith('exec "$BOOTSTRAP" boot')
    (reservation,) = aws.describe_instances(InstanceIds=[instance_id])["Reservations"]
    assert reservation["Instances"][0]["KeyName"] == "Workbench-key"
    assert reservation["Instances"][0]["InstanceType"] == "t3.medium"


def test_existing_key_pair_is_used_as_it_is(aws, synthesized):
    config, template = synthesized("existing_key")
    assert config.key_name == KEY_NAME, "the key pair the aws fixture creates"
    deployed = deploy(template)
    instance_id = deployed["physical"][INSTANCE_LOGICAL_ID]
    (reservation,) = aws.describe_instances(InstanceIds=[instance_id])["Reservations"]
    assert reservation["Instances"][0]["KeyName"] == KEY_NAME
    assert "KeyCommand" not in deployed["outputs"]


def password(outputs: dict, user: str) -> str:
    """Run the PasswordCommand output for `user` as sh would, with its one AWS call made by
    boto3 (its arguments read back from the command line)."""
    argv = shlex.split(outputs["PasswordCommand"])
    assert argv[:2] == ["sh", "-c"] and argv[3] == "password-of", argv
    inner = shlex.split(argv[2].replace("$1", user))
    assert inner[:3] == ["aws", "secretsmanager", "get-secret-value"], inner
    assert inner[inner.index("--query") + 1] == "SecretString"
    secrets = boto3.client("secretsmanager", region_name=inner[inner.index("--region") + 1])
    return secrets.get_secret_value(SecretId=inner[inner.index("--secret-id") + 1])["SecretString"]


def test_each_users_password_is_its_own_and_printed_by_the_password_command(aws, synthesized):
    # "existing_key" is also a team.
    outputs = deploy(synthesized("existing_key")[1])["outputs"]
    assert outputs["LoginUser"] == "alice,bob"
    alice, bob = password(outputs, "alice"), password(outputs, "bob")
    assert len(alice) == len(bob) == 24 and alice.isalnum() and bob.isalnum()
    assert alice != bob


def test_generated_key_and_password_can_be_fetched_with_the_printed_commands(aws, synthesized):
    deployed = deploy(synthesized("default")[1])
    outputs = deployed["outputs"]
    # The outputs are shell commands; run their API calls the way the CLI would.
    key_parameter = outputs["KeyCommand"].split("--name ")[1].split()[0]
    ssm = boto3.client("ssm", region_name=REGION)
    pem = ssm.get_parameter(Name=key_parameter, WithDecryption=True)["Parameter"]["Value"]
    assert pem.startswith("-----BEGIN")
    secret = password(outputs, "workbench")
    assert len(secret) == 24 and secret.isalnum()


def test_deployed_stack_has_its_outputs(aws, synthesized):
    deployed = deploy(synthesized("default")[1])
    outputs = deployed["outputs"]
    instance_id = deployed["physical"][INSTANCE_LOGICAL_ID]
    assert outputs["InstanceId"] == instance_id
    for name in (
        "LandingUrl",
        "JupyterhubUrl",
        "RstudioUrl",
        "PenguinsUrl",
        "SshCommand",
        "JupyterhubTunnel",
        "RstudioTunnel",
        "PenguinsTunnel",
        "ApiTunnel",
        "LoginUser",
    ):
        assert name in outputs, name
    assert outputs["LandingUrl"].startswith("http://") and outputs["LandingUrl"].endswith("/")
    assert outputs["JupyterhubUrl"].endswith("/jupyter/")
    assert outputs["JupyterhubTunnel"].startswith(
        "ssh -i Workbench.pem -N -L 8000:localhost:8000 ubuntu@"
    )
    assert "ApiUrl" not in outputs


def test_deployed_instance_is_told_the_wait_handles_url(aws, synthesized):
    deployed = deploy(synthesized("default")[1])
    (handle,) = [k for k in deployed["physical"] if k.startswith(READY_HANDLE_LOGICAL_ID_PREFIX)]
    url = deployed["physical"][handle]
    assert re.fullmatch(
        r"https://cloudformation-waitcondition-us-east-1\.s3\.amazonaws\.com/\S+", url
    )
    # As the bootstrap reads it: the deployment parameter's record, sourced by bash.
    ssm = boto3.client("ssm", region_name=REGION)
    record = ssm.get_parameter(Name=parameter_name("Workbench"))["Parameter"]["Value"]
    sourced = subprocess.run(
        ["bash", "-c", f'{record}\nprintf %s "$WORKBENCH_READY_URL"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sourced == url
    assert "&" in url, "shaped like AWS's presigned URL, query string included"
    condition = READY_LOGICAL_ID_PREFIX + handle.removeprefix(READY_HANDLE_LOGICAL_ID_PREFIX)
    assert condition in deployed["physical"], "the wait condition is a stack resource"
