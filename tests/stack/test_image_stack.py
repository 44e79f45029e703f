"""Policies on the image stack: it bakes the install phase of the bundle the workbench ships,
on Canonical's image for the release, encrypted, publishes the AMI to the workbench's parameter,
cleans up old images, and versions its parts by their content."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml
from aws_cdk import App, Stack, Stage
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk.assertions import Template

from stacks.build import IMAGE_STAGE, add_image
from stacks.image_component import InstallComponent
from stacks.image_recipe import ImageRecipe
from stacks.server import ROOT_DEVICE
from tests.stack.template import resources
from tests.synth import ROOT, synth_image
from workbench import pins, provisioning
from workbench.config import BAKED_ROOT_GB, UBUNTU_AMI_PARAMETERS, WorkbenchConfig
from workbench.image import (
    component_version,
    image_stack_name,
    published_parameter,
    resource_name,
)
from workbench.render import INSTANCE_ROOT

BUNDLE_KEY = re.compile(r"[0-9a-f]{64}\.zip")
ASSET_BUCKET = {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}


def only(template: dict, type_: str) -> tuple[str, dict]:
    ((name, resource),) = resources(template, type_).items()
    return name, resource["Properties"]


def text(value) -> str:
    """A Fn::Join of strings and tokens as text, the asset bucket written as <bucket>."""
    if isinstance(value, str):
        return value
    _, parts = value["Fn::Join"]
    return "".join(
        p if isinstance(p, str) else ("<bucket>" if p == ASSET_BUCKET else "<?>") for p in parts
    )


def get_att(name: str, attribute: str = "Arn") -> dict:
    return {"Fn::GetAtt": [name, attribute]}


@pytest.fixture(scope="module")
def image(image_synthesized):
    config, template, _ = image_synthesized
    return config, template


def component_steps(template: dict) -> dict[str, dict]:
    _, props = only(template, "AWS::ImageBuilder::Component")
    document = yaml.safe_load(text(props["Data"]))
    (build,) = document["phases"]
    return {step["name"]: step for step in build["steps"]}


def test_the_component_runs_the_install_phase_of_the_bundle_the_workbench_ships(image, synthesized):
    _, template = image
    _, workbench = synthesized("default")
    # The workbench's bundle asset, wherever its template names it (the deployment parameter).
    (shipped,) = set(BUNDLE_KEY.findall(json.dumps(workbench)))
    steps = component_steps(template)
    (download,) = steps["DownloadBundle"]["inputs"]
    assert download["source"] == f"s3://<bucket>/{shipped}"
    assert steps["Install"]["inputs"]["commands"][-1] == f"{INSTANCE_ROOT}/provision.sh install"
    _, props = only(template, "AWS::ImageBuilder::Component")
    assert props["Platform"] == "Linux"


def test_the_build_instance_may_read_the_bundle_and_nothing_else(image):
    _, template = image
    _, profile = only(template, "AWS::IAM::InstanceProfile")
    (role_ref,) = profile["Roles"]
    role = template["Resources"][role_ref["Ref"]]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
        }
    ]
    managed = sorted(arn["Fn::Join"][1][-1] for arn in role["ManagedPolicyArns"])
    assert managed == [
        ":iam::aws:policy/AmazonSSMManagedInstanceCore",
        ":iam::aws:policy/EC2InstanceProfileForImageBuilder",
    ]
    (policy,) = [
        r["Properties"]
        for r in resources(template, "AWS::IAM::Policy").values()
        if r["Properties"]["Roles"] == [role_ref]
    ]
    actions = set()
    for statement in policy["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "cdk-hnb659fds-assets-" in str(statement["Resource"])
        actions |= set(statement["Action"])
    assert actions == {"s3:GetObject*", "s3:GetBucket*", "s3:List*"}, "read only"


def test_the_recipe_starts_from_canonicals_image_for_the_release(image):
    config, template = image
    _, recipe = only(template, "AWS::ImageBuilder::ImageRecipe")
    assert recipe["ParentImage"] == f"ssm:{UBUNTU_AMI_PARAMETERS[config.ubuntu_release]}"
    component, _ = only(template, "AWS::ImageBuilder::Component")
    assert recipe["Components"] == [{"ComponentArn": get_att(component)}]


def test_the_images_volume_is_encrypted(image):
    _, template = image
    _, recipe = only(template, "AWS::ImageBuilder::ImageRecipe")
    assert recipe["BlockDeviceMappings"] == [
        {
            "DeviceName": ROOT_DEVICE,
            "Ebs": {
                "DeleteOnTermination": True,
                "Encrypted": True,
                "VolumeSize": BAKED_ROOT_GB,
                "VolumeType": "gp3",
            },
        }
    ]


def test_the_ami_id_is_published_to_the_workbenchs_parameter(image):
    config, template = image
    _, distribution = only(template, "AWS::ImageBuilder::DistributionConfiguration")
    (target,) = distribution["Distributions"]
    assert target["Region"] == {"Ref": "AWS::Region"}
    assert target["SsmParameterConfigurations"] == [
        {"ParameterName": published_parameter(config), "DataType": "aws:ec2:image"}
    ]
    assert published_parameter(config) == "/workbench/Workbench/image/24.04/ami-id"
    assert "{{ imagebuilder:buildDate }}" in target["AmiDistributionConfiguration"]["Name"]
    assert template["Outputs"]["PublishedParameter"]["Value"] == published_parameter(config)


def test_the_image_builds_during_the_deploy_from_the_stacks_parts(image):
    _, template = image
    _, props = only(template, "AWS::ImageBuilder::Image")
    recipe, _ = only(template, "AWS::ImageBuilder::ImageRecipe")
    infrastructure, _ = only(template, "AWS::ImageBuilder::InfrastructureConfiguration")
    distribution, _ = only(template, "AWS::ImageBuilder::DistributionConfiguration")
    assert props["ImageRecipeArn"] == get_att(recipe)
    assert props["InfrastructureConfigurationArn"] == get_att(infrastructure)
    assert props["DistributionConfigurationArn"] == get_att(distribution)
    name, _ = only(template, "AWS::ImageBuilder::Image")
    assert template["Outputs"]["ImageId"]["Value"] == get_att(name, "ImageId")
    assert "aws imagebuilder create-image" in text(template["Outputs"]["RebuildCommand"]["Value"])


def test_old_images_go_with_their_amis_and_snapshots(image):
    config, template = image
    _, policy = only(template, "AWS::ImageBuilder::LifecyclePolicy")
    assert policy["ResourceType"] == "AMI_IMAGE"
    assert policy["Status"] == "ENABLED"
    (detail,) = policy["PolicyDetails"]
    assert detail["Action"] == {
        "Type": "DELETE",
        "IncludeResources": {"Amis": True, "Snapshots": True},
    }
    assert detail["Filter"] == {"Type": "COUNT", "Value": 2}
    assert policy["ResourceSelection"] == {
        "Recipes": [{"Name": resource_name(config, "recipe"), "SemanticVersion": "x.x.x"}]
    }
    role = template["Resources"][policy["ExecutionRole"]["Fn::GetAtt"][0]]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "imagebuilder.amazonaws.com"
    }
    assert "EC2ImageBuilderLifecycleExecutionPolicy" in str(role["ManagedPolicyArns"])
    # An image CloudFormation replaces goes at once, with its AMI and snapshots.
    _, image_props = only(template, "AWS::ImageBuilder::Image")
    assert image_props["DeletionSettings"] == {"ExecutionRole": policy["ExecutionRole"]}


def test_the_build_instance_is_reachable_from_nowhere_and_requires_imdsv2(image):
    config, template = image
    _, infrastructure = only(template, "AWS::ImageBuilder::InfrastructureConfiguration")
    assert infrastructure["InstanceTypes"] == [config.instance_type]
    assert infrastructure["InstanceMetadataOptions"] == {
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 1,
    }
    assert infrastructure["TerminateInstanceOnFailure"] is True
    group, props = only(template, "AWS::EC2::SecurityGroup")
    assert infrastructure["SecurityGroupIds"] == [get_att(group, "GroupId")]
    assert "SecurityGroupIngress" not in props
    assert not resources(template, "AWS::EC2::SecurityGroupIngress")


def test_image_builder_names_carry_the_image_stacks_name(image):
    config, template = image
    names = [
        r["Properties"]["Name"]
        for r in template["Resources"].values()
        if r["Type"].startswith("AWS::ImageBuilder::") and "Name" in r["Properties"]
    ]
    assert len(names) == 5
    assert all(n.startswith(f"{image_stack_name(config)}-") for n in names)


def test_the_image_stack_is_not_a_top_level_stack():
    # The CDK CLI's default selection (cdk deploy/diff/destroy without a name) takes top-level
    # stacks only: the workbench, as before. `make image` names the stage.
    app = App()
    config = WorkbenchConfig()
    bundle = Path(__file__).parent  # any directory: nothing is synthesized here
    stack = add_image(app, config, bundle_dir=bundle)
    assert isinstance(stack.node.scope, Stage) and stack.node.scope.node.id == IMAGE_STAGE
    assert stack.stack_name == image_stack_name(config)
    makefile = (ROOT / "Makefile").read_text()
    (recipe,) = re.findall(r"^image:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert f"deploy --no-notices '{IMAGE_STAGE}/*'" in recipe


def parts(tmp_path: Path, bundle_text: str, release: str = "24.04") -> tuple[dict, dict]:
    """The component's and the recipe's properties for a bundle holding `bundle_text`."""
    bundle = tmp_path / bundle_text.encode().hex()[:16] / release
    bundle.mkdir(parents=True)
    (bundle / "provision.sh").write_text(bundle_text)
    stack = Stack(App(), "Parts")
    config = WorkbenchConfig(ubuntu_release=release)
    asset = s3_assets.Asset(stack, "Bundle", path=str(bundle))
    component = InstallComponent(stack, "Component", config=config, bundle=asset)
    ImageRecipe(stack, "Recipe", config=config, component=component)
    template = Template.from_stack(stack).to_json()
    return (
        only(template, "AWS::ImageBuilder::Component")[1],
        only(template, "AWS::ImageBuilder::ImageRecipe")[1],
    )


def test_versions_change_exactly_when_content_changes(tmp_path, image):
    _, template = image
    _, component = only(template, "AWS::ImageBuilder::Component")
    (shipped,) = re.findall(r"[0-9a-f]{64}\.zip", text(component["Data"]))
    assert component["Version"] == component_version(name=component["Name"], key=shipped)

    first_component, first_recipe = parts(tmp_path, "echo one\n")
    same_component, same_recipe = parts(tmp_path / "again", "echo one\n")
    other_component, other_recipe = parts(tmp_path, "echo two\n")
    jammy_component, jammy_recipe = parts(tmp_path, "echo one\n", release="22.04")
    assert (same_component["Version"], same_recipe["Version"]) == (
        first_component["Version"],
        first_recipe["Version"],
    ), "the same content elsewhere on disk"
    assert other_component["Version"] != first_component["Version"]
    assert other_recipe["Version"] != first_recipe["Version"], "a new component, a new recipe"
    assert jammy_component["Version"] == first_component["Version"]
    assert jammy_recipe["Version"] != first_recipe["Version"], "another parent image"
    assert jammy_recipe["ParentImage"] == f"ssm:{UBUNTU_AMI_PARAMETERS['22.04']}"


def versions(template: dict) -> tuple[str, str]:
    return (
        only(template, "AWS::ImageBuilder::Component")[1]["Version"],
        only(template, "AWS::ImageBuilder::ImageRecipe")[1]["Version"],
    )


def test_only_install_inputs_version_the_image(tmp_path, image, monkeypatch):
    # The install phase depends on no configuration: a configure-only change must not rebake.
    _, template = image
    _, configured, _ = synth_image(
        tmp_path / "configured",
        users=["alice", "bob"],
        idle_cull_minutes=5,
        penguin_api_public=True,
        https="ip",
        acme_email="admin@example.org",
    )
    assert versions(configured) == versions(template)
    # A changed pin is install content: new versions.
    node = dataclasses.replace(pins.NODE, sha256="0" * 64)
    monkeypatch.setattr(pins, "NODE", node)
    monkeypatch.setattr(provisioning, "NODE", node)
    _, repinned, _ = synth_image(tmp_path / "repinned")
    component, recipe = versions(repinned)
    assert component != versions(template)[0] and recipe != versions(template)[1]


def test_cloudformations_own_validation_finds_nothing(image_synthesized):
    # CDK runs cfn-lint's rules at synth ("CloudFormation Validate") but reports them as warnings
    # only; here they fail. (It caught AmiDistributionConfiguration's keys, a JSON property that
    # CDK passes through as written.)
    _, _, bundle = image_synthesized
    report = json.loads((bundle.parent / "cdk.out" / "validation-report.json").read_text())
    # The plugin's report is left out when it finds nothing.
    found = [
        (v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"]
        if plugin["pluginName"] == "CloudFormation Validate"
        for v in plugin["violations"]
        for c in v["violatingConstructs"]
        if c["constructPath"].startswith(f"{IMAGE_STAGE}/")
    ]
    assert found == []
