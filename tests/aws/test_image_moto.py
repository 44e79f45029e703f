"""The image stack deployed into moto, then a workbench with `image=baked` launching from it.

moto has no Image Builder; workbench.local.emulator's models stand in (models/image*.py and the
configurations): the image "build" registers an AMI in moto's EC2 and writes the distribution's
SSM parameters, as Image Builder's distribution does, and EC2's `resolve:ssm:` ImageId is resolved
at launch (models/instance.py). What only AWS can show (the bake itself, the lifecycle policy
acting) is left to a real `make image`.
"""

from __future__ import annotations

import boto3
import pytest

from stacks.server import INSTANCE_LOGICAL_ID
from tests.aws.deployment import deploy
from workbench.image import image_stack_name, published_parameter
from workbench.local.emulator import REGION

IMAGE_BUILDER_TYPES = {
    "AWS::ImageBuilder::Component",
    "AWS::ImageBuilder::ImageRecipe",
    "AWS::ImageBuilder::InfrastructureConfiguration",
    "AWS::ImageBuilder::DistributionConfiguration",
    "AWS::ImageBuilder::LifecyclePolicy",
    "AWS::ImageBuilder::Image",
}


def test_the_image_stack_publishes_an_ami_a_baked_workbench_launches_from(
    aws, image_synthesized, synthesized
):
    config, template, _ = image_synthesized
    image = deploy(template, stack_name=image_stack_name(config))
    ami_id = image["outputs"]["ImageId"]
    (ami,) = aws.describe_images(ImageIds=[ami_id])["Images"]
    assert {t["Key"]: t["Value"] for t in ami["Tags"]}["CreatedBy"] == "EC2 Image Builder"
    assert ami["Name"].startswith(f"{config.stack_name}-workbench-")

    ssm = boto3.client("ssm", region_name=REGION)
    parameter = ssm.get_parameter(Name=published_parameter(config))["Parameter"]
    assert (parameter["Value"], parameter["DataType"]) == (ami_id, "aws:ec2:image")
    assert image["outputs"]["PublishedParameter"] == published_parameter(config)

    cfn = boto3.client("cloudformation", region_name=REGION)
    deployed = {
        r["ResourceType"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=image_stack_name(config))["StackResources"]
    }
    assert set(deployed) >= IMAGE_BUILDER_TYPES
    assert all(
        deployed[t].startswith(f"arn:aws:imagebuilder:{REGION}:") for t in IMAGE_BUILDER_TYPES
    )

    _, baked = synthesized("baked")
    workbench = deploy(baked)
    instance_id = workbench["physical"][INSTANCE_LOGICAL_ID]
    (reservation,) = aws.describe_instances(InstanceIds=[instance_id])["Reservations"]
    assert reservation["Instances"][0]["ImageId"] == ami_id


def test_a_baked_workbench_without_a_published_image_does_not_launch(synthesized):
    config, baked = synthesized("baked")
    # As on AWS: EC2 refuses to launch from a parameter that does not exist (make image first).
    # (moto's in-process create_stack raises the emulated EC2's refusal itself.)
    with pytest.raises(ValueError, match=f"InvalidParameterValue.*{published_parameter(config)}"):
        deploy(baked)
