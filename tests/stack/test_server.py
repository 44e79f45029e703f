"""Policies on the server: IMDSv2, encryption, no custom resources, user data, readiness."""

from __future__ import annotations

import json
import re

from stacks.readiness import READY_HANDLE_LOGICAL_ID_PREFIX, READY_LOGICAL_ID_PREFIX
from stacks.server import INSTANCE_LOGICAL_ID
from stacks.storage import HOME_ATTACHMENT_LOGICAL_ID
from tests.stack.user_data import mime_parts, user_data_document
from workbench.config import UBUNTU_AMI_PARAMETERS
from workbench.outputs import output_specs

EC2_USER_DATA_LIMIT = 16 * 1024


def resources(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def instance(template: dict) -> dict:
    return template["Resources"][INSTANCE_LOGICAL_ID]


def user_data_parts(template: dict) -> list:
    return instance(template)["Properties"]["UserData"]["Fn::Base64"]["Fn::Join"][1]


def user_data_text(template: dict) -> str:
    """The bootstrap script (the user data's shell-script part), each CloudFormation token
    replaced by a 64-character stand-in."""
    (script,) = [
        body
        for content_type, body in mime_parts(user_data_document(template))
        if content_type == "text/x-shellscript"
    ]
    return script


def readiness(template: dict) -> tuple[str, str]:
    """The logical IDs of the wait condition handle and the wait condition."""
    (handle,) = resources(template, "AWS::CloudFormation::WaitConditionHandle")
    (condition,) = resources(template, "AWS::CloudFormation::WaitCondition")
    return handle, condition


def test_every_instance_requires_imdsv2(synthesized):
    _, template = synthesized("default")
    (template_props,) = (
        r["Properties"] for r in resources(template, "AWS::EC2::LaunchTemplate").values()
    )
    assert template_props["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"
    name = template_props["LaunchTemplateName"]
    assert instance(template)["Properties"]["LaunchTemplate"]["LaunchTemplateName"] == name


def test_every_volume_is_encrypted_gp3(synthesized):
    config, template = synthesized("default")
    for name, resource in template["Resources"].items():
        for mapping in resource.get("Properties", {}).get("BlockDeviceMappings", []):
            assert mapping["Ebs"]["Encrypted"] is True, name
            assert mapping["Ebs"]["VolumeType"] == "gp3", name
        if resource["Type"] == "AWS::EC2::Volume":
            assert resource["Properties"]["Encrypted"] is True, name
    (root,) = instance(template)["Properties"]["BlockDeviceMappings"]
    assert root["Ebs"]["VolumeSize"] == config.root_volume_gb


def test_no_lambda_or_custom_resources(synthesized):
    for context in ("default", "closed"):
        _, template = synthesized(context)
        types = {r["Type"] for r in template["Resources"].values()}
        assert "AWS::Lambda::Function" not in types
        assert not [
            t
            for t in types
            if t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource"
        ]


def test_ami_comes_from_the_ssm_parameter_without_lookup(synthesized):
    config, template = synthesized("default")
    image = instance(template)["Properties"]["ImageId"]["Ref"]
    parameter = template["Parameters"][image]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert parameter["Default"] == UBUNTU_AMI_PARAMETERS[config.ubuntu_release]


def test_user_data_is_a_small_bootstrap(synthesized):
    _, template = synthesized("default")
    text = user_data_text(template)
    assert text.startswith("#!/bin/bash\n")
    assert len(text.encode()) < EC2_USER_DATA_LIMIT / 4
    assert "provision.sh" in text
    assert "aws s3 cp" in text


def test_user_data_holds_no_password(synthesized):
    _, template = synthesized("default")
    text = json.dumps(instance(template)["Properties"]["UserData"])
    # Only the secret's ARN (a Ref) travels; the instance fetches the value itself.
    assert "SecretString" not in text
    assert "resolve:secretsmanager" not in text


def test_deploy_waits_for_the_workbench_to_answer(synthesized):
    _, template = synthesized("default")
    assert "CreationPolicy" not in instance(template), (
        "a creation policy would hold back the /home attachment until provisioning ends"
    )
    handle, name = readiness(template)
    condition = template["Resources"][name]
    assert handle.startswith(READY_HANDLE_LOGICAL_ID_PREFIX)
    assert name.startswith(READY_LOGICAL_ID_PREFIX)
    assert condition["Properties"] == {
        "Handle": {"Ref": handle},
        "Count": 1,
        "Timeout": "1800",
    }
    # Waits for the signal only once /home is attached: provisioning mounts it before the user.
    assert set(condition["DependsOn"]) == {HOME_ATTACHMENT_LOGICAL_ID, INSTANCE_LOGICAL_ID}


def test_the_instance_is_told_where_to_signal(synthesized):
    _, template = synthesized("default")
    parts = user_data_parts(template)
    handle, _ = readiness(template)
    at = parts.index({"Ref": handle})
    # Single-quoted in /etc/workbench/env: the presigned URL holds '&'.
    assert parts[at - 1].endswith("\nWORKBENCH_READY_URL='")
    assert parts[at + 1].startswith("'\n")
    assert "WORKBENCH_RESOURCE" not in user_data_text(template)


def test_nothing_depends_on_the_readiness_but_the_deploy(synthesized):
    # The instance must not wait for its own signal: that would deadlock until the timeout.
    _, template = synthesized("default")
    _, condition = readiness(template)
    for name, resource in template["Resources"].items():
        assert condition not in json.dumps(resource.get("DependsOn", [])), name
    assert condition not in json.dumps(template["Outputs"])


def test_instance_role_reads_only_its_bundle_and_its_secret(synthesized):
    _, template = synthesized("default")
    actions = set()
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            acts = statement["Action"]
            actions.update([acts] if isinstance(acts, str) else acts)
    assert actions == {
        "s3:GetObject*",
        "s3:GetBucket*",
        "s3:List*",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }, "signalling the wait condition's presigned URL needs no IAM permission"
    (role,) = resources(template, "AWS::IAM::Role").values()
    managed = json.dumps(role["Properties"]["ManagedPolicyArns"])
    assert "AmazonSSMManagedInstanceCore" in managed


def test_password_is_generated_at_deploy_time(synthesized):
    _, template = synthesized("default")
    (secret,) = resources(template, "AWS::SecretsManager::Secret").values()
    assert "GenerateSecretString" in secret["Properties"]
    assert "SecretString" not in secret["Properties"]


def test_key_pair_generated_unless_named(synthesized):
    _, default = synthesized("default")
    _, named = synthesized("existing_key")
    assert len(resources(default, "AWS::EC2::KeyPair")) == 1
    assert resources(named, "AWS::EC2::KeyPair") == {}
    assert instance(named)["Properties"]["KeyName"] == "workbench-test"


def test_stateful_logical_ids_are_pinned(synthesized):
    _, template = synthesized("default")
    assert template["Resources"]["WorkbenchInstance"]["Type"] == "AWS::EC2::Instance"
    assert template["Resources"]["WorkbenchSecurityGroup"]["Type"] == "AWS::EC2::SecurityGroup"
    # The readiness resources are stateless and change their IDs with the bundle on purpose
    # (tests/stack/test_redeploy.py).


def test_every_output_is_present(synthesized):
    for context in ("default", "closed", "existing_key"):
        config, template = synthesized(context)
        expected = {spec.name for spec in output_specs(config)}
        assert set(template["Outputs"]) == expected
        assert {
            "LandingUrl",
            "JupyterhubUrl",
            "RstudioUrl",
            "SshCommand",
            "JupyterhubTunnel",
            "InstanceId",
            "SecurityGroupId",
            "PublicIp",
            "PublicDns",
            "PasswordCommand",
        } <= expected


def test_tunnel_outputs_use_ssh_or_session_manager(synthesized):
    _, open_ = synthesized("default")
    _, closed = synthesized("closed")
    tunnel = json.dumps(open_["Outputs"]["JupyterhubTunnel"]["Value"])
    assert re.search(r"ssh -i Workbench\.pem -N -L 8000:localhost:8000 ubuntu@", tunnel)
    closed_tunnel = json.dumps(closed["Outputs"]["JupyterhubTunnel"]["Value"])
    assert "AWS-StartPortForwardingSession" in closed_tunnel
    assert "portNumber=8000,localPortNumber=8000" in closed_tunnel


def test_private_api_gets_a_tunnel_but_no_url(synthesized):
    _, private = synthesized("default")
    _, public = synthesized("existing_key")
    assert "ApiTunnel" in private["Outputs"] and "ApiUrl" not in private["Outputs"]
    assert "ApiUrl" in public["Outputs"]
