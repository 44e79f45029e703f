"""Policies on the server: IMDSv2, encryption, no custom resources, the image, user data, the
deployment it reads, readiness, the role's permissions, the outputs."""

from __future__ import annotations

import json
import re

from stacks.address import ADDRESS_LOGICAL_ID
from stacks.deployment import ASSOCIATION_LOGICAL_ID, DEPLOYMENT_PARAMETER_LOGICAL_ID
from stacks.readiness import READY_HANDLE_LOGICAL_ID_PREFIX, READY_LOGICAL_ID_PREFIX
from stacks.server import INSTANCE_LOGICAL_ID
from stacks.storage import HOME_VOLUME_LOGICAL_ID
from tests.stack.template import deployment_record, readiness_ids, resources
from tests.stack.user_data import user_data_script
from workbench.config import UBUNTU_AMI_PARAMETERS
from workbench.deployment import BOOTSTRAP_PATH, KEYS, parameter_name
from workbench.outputs import output_specs

EC2_USER_DATA_LIMIT = 16 * 1024


def instance(template: dict) -> dict:
    return template["Resources"][INSTANCE_LOGICAL_ID]


def test_every_instance_requires_imdsv2(synthesized):
    _, template = synthesized("default")
    (name,) = resources(template, "AWS::EC2::LaunchTemplate")
    data = template["Resources"][name]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert instance(template)["Properties"]["LaunchTemplate"]["LaunchTemplateId"] == {"Ref": name}


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


def test_the_image_is_resolved_by_ec2_at_launch_not_by_cloudformation(synthesized):
    for context in ("default", "closed"):
        config, template = synthesized(context)
        image = instance(template)["Properties"]["ImageId"]
        assert image == f"resolve:ssm:{UBUNTU_AMI_PARAMETERS[config.ubuntu_release]}"
        # A parameter of type AWS::SSM::Parameter::Value<...> is re-resolved at every update,
        # and a new value would replace the instance. Only CDK's own bootstrap-version check
        # may be one.
        ssm_typed = {
            name
            for name, parameter in template.get("Parameters", {}).items()
            if parameter["Type"].startswith("AWS::SSM::Parameter::Value")
        }
        assert ssm_typed == {"BootstrapVersion"}, context


def test_ami_id_pins_an_exact_image(synthesized):
    config, template = synthesized("pinned")
    assert instance(template)["Properties"]["ImageId"] == config.ami_id == "ami-0123456789abcdef0"


def test_user_data_is_a_small_bootstrap(synthesized):
    _, template = synthesized("default")
    text = user_data_script(template)
    assert text.startswith("#!/bin/bash\n")
    assert len(text.encode()) < EC2_USER_DATA_LIMIT * 3 / 4
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
        "a creation policy would hold back everything that follows the instance"
    )
    handle, name = readiness_ids(template)
    condition = template["Resources"][name]
    assert handle.startswith(READY_HANDLE_LOGICAL_ID_PREFIX)
    assert name.startswith(READY_LOGICAL_ID_PREFIX)
    assert condition["Properties"] == {
        "Handle": {"Ref": handle},
        "Count": 1,
        "Timeout": "2400",
    }
    # Waits once the instance runs and the association names the revision it must apply.
    assert set(condition["DependsOn"]) == {ASSOCIATION_LOGICAL_ID, INSTANCE_LOGICAL_ID}


def test_the_deployment_parameter_tells_the_instance_where_to_signal(synthesized):
    _, template = synthesized("default")
    parameter = template["Resources"][DEPLOYMENT_PARAMETER_LOGICAL_ID]
    assert parameter["Type"] == "AWS::SSM::Parameter"
    assert parameter["Properties"]["Name"] == parameter_name("Workbench")
    assert parameter["Properties"]["Type"] == "String"
    parts = deployment_record(template)
    handle, _ = readiness_ids(template)
    at = parts.index({"Ref": handle})
    # Single-quoted in /etc/workbench/env: the presigned URL holds '&'.
    assert parts[at - 1].endswith("\nWORKBENCH_READY_URL='")
    assert parts[at + 1].startswith("'\n")
    text = "".join(p if isinstance(p, str) else "<token>" for p in parts)
    assert [line.split("=", 1)[0] for line in text.splitlines()] == list(KEYS)
    assert {"Fn::GetAtt": [ADDRESS_LOGICAL_ID, "PublicIp"]} in parts
    assert {"Fn::GetAtt": [ADDRESS_LOGICAL_ID, "AllocationId"]} in parts
    assert {"Ref": HOME_VOLUME_LOGICAL_ID} in parts


def test_the_instance_reads_its_deployment_before_it_exists(synthesized):
    _, template = synthesized("default")
    assert DEPLOYMENT_PARAMETER_LOGICAL_ID in instance(template)["DependsOn"]
    text = user_data_script(template)
    assert f"PARAMETER={parameter_name('Workbench')}\n" in text
    assert f"BOOTSTRAP={BOOTSTRAP_PATH}\n" in text
    assert "WORKBENCH_READY_URL='" not in json.dumps(instance(template)["Properties"]["UserData"])


def test_the_association_applies_the_revision_on_the_instance(synthesized):
    _, template = synthesized("default")
    association = template["Resources"][ASSOCIATION_LOGICAL_ID]
    props = association["Properties"]
    assert props["Name"] == "AWS-RunShellScript"
    assert props["Targets"] == [{"Key": "InstanceIds", "Values": [{"Ref": INSTANCE_LOGICAL_ID}]}]
    (command,) = props["Parameters"]["commands"]
    _, condition = readiness_ids(template)
    revision = command.rsplit(" ", 1)[1]
    assert command.endswith(f"exec {BOOTSTRAP_PATH} apply {revision}")
    assert condition == READY_LOGICAL_ID_PREFIX + revision[:8]
    record = "".join(p for p in deployment_record(template) if isinstance(p, str))
    assert f"WORKBENCH_REVISION='{revision}'\n" in record
    assert props["Parameters"]["executionTimeout"] == ["2400"]
    # It names the revision the parameter holds only once the parameter holds it.
    assert association["DependsOn"] == [DEPLOYMENT_PARAMETER_LOGICAL_ID]
    assert "WaitForSuccessTimeoutSeconds" not in props, "the wait condition reports, by step"


def test_nothing_depends_on_the_readiness_but_the_deploy(synthesized):
    # The instance must not wait for its own signal: that would deadlock until the timeout.
    _, template = synthesized("default")
    _, condition = readiness_ids(template)
    for name, resource in template["Resources"].items():
        assert condition not in json.dumps(resource.get("DependsOn", [])), name
    assert condition not in json.dumps(template["Outputs"])


def policy_statements(template: dict) -> list[dict]:
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_of(statement: dict) -> set[str]:
    acts = statement["Action"]
    return {acts} if isinstance(acts, str) else set(acts)


def test_instance_role_reads_its_bundle_secrets_and_deployment_and_moves_only_its_own(synthesized):
    _, template = synthesized("default")
    actions = set().union(*(actions_of(s) for s in policy_statements(template)))
    assert actions == {
        "s3:GetObject*",
        "s3:GetBucket*",
        "s3:List*",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "ssm:GetParameter",
        "ec2:DescribeVolumes",
        "ec2:DescribeInstances",
        "ec2:DescribeAddresses",
        "ec2:AttachVolume",
        "ec2:DetachVolume",
        "ec2:AssociateAddress",
        "ec2:StopInstances",
        "ec2:StartInstances",
    }, "signalling the wait condition's presigned URL needs no IAM permission"
    (role,) = resources(template, "AWS::IAM::Role").values()
    managed = json.dumps(role["Properties"]["ManagedPolicyArns"])
    assert "AmazonSSMManagedInstanceCore" in managed


def test_the_takeover_touches_only_this_stacks_volume_address_and_instances(synthesized):
    _, template = synthesized("default")
    changing = {
        "ec2:AttachVolume",
        "ec2:DetachVolume",
        "ec2:AssociateAddress",
        "ec2:StopInstances",
        "ec2:StartInstances",
    }
    for statement in policy_statements(template):
        acts = actions_of(statement) & changing
        if not acts:
            continue
        resource = json.dumps(statement["Resource"])
        if ":instance/*" in resource:
            assert statement["Condition"] == {
                "StringEquals": {"aws:ResourceTag/aws:cloudformation:stack-name": "Workbench"}
            }, acts
        elif ":volume/" in resource:
            assert {"Ref": HOME_VOLUME_LOGICAL_ID} in statement["Resource"]["Fn::Join"][1]
            assert acts == {"ec2:AttachVolume", "ec2:DetachVolume"}
        else:
            assert ":elastic-ip/" in resource, statement
            allocation = {"Fn::GetAtt": [ADDRESS_LOGICAL_ID, "AllocationId"]}
            assert allocation in statement["Resource"]["Fn::Join"][1]
            assert acts == {"ec2:AssociateAddress"}
    for statement in policy_statements(template):
        if statement["Resource"] == "*":
            assert all(a.startswith("ec2:Describe") for a in actions_of(statement)), statement
    (get,) = [s for s in policy_statements(template) if "ssm:GetParameter" in actions_of(s)]
    assert get["Resource"]["Fn::Join"][1][-1] == ":parameter/workbench/Workbench/deployment"


def test_instance_role_reads_each_users_secret_by_its_arn_and_no_other(synthesized):
    for context in ("default", "existing_key"):
        _, template = synthesized(context)
        read = [
            s
            for s in policy_statements(template)
            if "secretsmanager:GetSecretValue" in actions_of(s)
        ]
        for statement in read:
            assert actions_of(statement) == {
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",
            }, context
        # Each user's secret by its own ARN: no wildcard, no other secret.
        secrets = resources(template, "AWS::SecretsManager::Secret")
        assert sorted(s["Resource"]["Ref"] for s in read) == sorted(secrets), context


def test_each_user_gets_a_password_generated_at_deploy_time(synthesized):
    for context in ("default", "existing_key"):
        config, template = synthesized(context)
        secrets = resources(template, "AWS::SecretsManager::Secret").values()
        names = sorted(s["Properties"]["Name"] for s in secrets)
        assert names == sorted(f"{config.stack_name}/users/{u}/password" for u in config.users)
        for secret in secrets:
            assert "GenerateSecretString" in secret["Properties"]
            assert "SecretString" not in secret["Properties"]


def test_a_users_secret_keeps_its_logical_id_when_others_come_and_go():
    # Adding bob must not replace alice's secret (a new secret would not match her password).
    # The construct alone, in a bare stack: a whole synth per user list costs seconds.
    from aws_cdk import App, Stack
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Template

    from stacks.passwords import UserPasswords
    from workbench.config import WorkbenchConfig

    def ids(users: tuple[str, ...]) -> dict[str, str]:
        stack = Stack(App(), "Workbench")
        role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
        UserPasswords(stack, "Passwords", config=WorkbenchConfig(users=users), reader=role)
        found = Template.from_stack(stack).find_resources("AWS::SecretsManager::Secret")
        return {s["Properties"]["Name"].split("/")[2]: logical for logical, s in found.items()}

    assert ids(("alice",))["alice"] == ids(("bob", "alice"))["alice"]


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
    assert template["Resources"]["WorkbenchAddress"]["Type"] == "AWS::EC2::EIP"
    assert template["Resources"]["WorkbenchDeployment"]["Type"] == "AWS::SSM::Parameter"
    assert template["Resources"]["WorkbenchProvisioning"]["Type"] == "AWS::SSM::Association"
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
            "LoginUser",
        } <= expected


def test_login_and_password_outputs_name_the_users(synthesized):
    _, template = synthesized("existing_key")
    assert template["Outputs"]["LoginUser"]["Value"] == "alice,bob"
    assert "admins: alice" in template["Outputs"]["LoginUser"]["Description"]
    command = json.dumps(template["Outputs"]["PasswordCommand"]["Value"])
    assert '--secret-id \\"Workbench/users/$1/password\\"' in command, command


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


def test_the_outputs_use_the_elastic_ip(synthesized):
    _, template = synthesized("default")
    outputs = template["Outputs"]
    address = {"Fn::GetAtt": [ADDRESS_LOGICAL_ID, "PublicIp"]}
    assert outputs["PublicIp"]["Value"] == address
    for name in ("LandingUrl", "JupyterhubUrl", "SshCommand", "JupyterhubTunnel"):
        assert address in outputs[name]["Value"]["Fn::Join"][1], name
    assert "PublicIpAddress" not in json.dumps(template["Outputs"]), (
        "no changing address to look up"
    )
    start = json.dumps(outputs["StartCommand"]["Value"])
    assert "start-instances" in start and "wait instance-running" in start


def test_the_elastic_ip_is_released_on_destroy(synthesized):
    _, template = synthesized("default")
    address = template["Resources"][ADDRESS_LOGICAL_ID]
    assert address["Properties"]["Domain"] == "vpc"
    assert "DeletionPolicy" not in address and "UpdateReplacePolicy" not in address
    # The instance goes first on destroy (its termination disassociates the address).
    assert ADDRESS_LOGICAL_ID in instance(template)["DependsOn"]
    assert not resources(template, "AWS::EC2::EIPAssociation"), "the instance associates it"
