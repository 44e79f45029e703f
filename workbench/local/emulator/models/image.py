"""AWS::ImageBuilder::Image: moto has no Image Builder. The emulated build registers an AMI in
moto's EC2 and distributes it as Image Builder does: each SSM parameter the distribution names
gets the AMI's ID (a new version when it exists), so that a workbench stack with `image=baked`
launches from it."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends
from moto.ssm.models import ssm_backends

from workbench.local.emulator.imagebuilder import ImageBuilderResource, arn, lookup, require
from workbench.local.emulator.models.distribution_configuration import (
    EmulatedDistributionConfiguration,
)
from workbench.local.emulator.models.image_recipe import EmulatedImageRecipe
from workbench.local.emulator.models.infrastructure_configuration import (
    EmulatedInfrastructureConfiguration,
)

BUILD_DATE = "2026-01-01T00-00-00.000Z"  # what {{ imagebuilder:buildDate }} becomes here


class EmulatedImage(ImageBuilderResource, CloudFormationModel):
    TYPE = "AWS::ImageBuilder::Image"
    ATTRIBUTES = ("Arn", "Name", "ImageId", "ImageUri")

    def __init__(self, arn_: str, name: str, props: dict, *, image_id: str, region: str) -> None:
        super().__init__(arn_, name, props)
        self.image_id = image_id
        self.region = region

    def get_cfn_attribute(self, attribute_name: str):
        if attribute_name == "ImageId":
            return self.image_id
        if attribute_name == "ImageUri":
            return ""  # container images only
        return super().get_cfn_attribute(attribute_name)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        require(props, cls.TYPE, "ImageRecipeArn", "InfrastructureConfigurationArn")
        recipe = lookup(props["ImageRecipeArn"], EmulatedImageRecipe)
        lookup(props["InfrastructureConfigurationArn"], EmulatedInfrastructureConfiguration)
        distribution = (
            lookup(props["DistributionConfigurationArn"], EmulatedDistributionConfiguration)
            if props.get("DistributionConfigurationArn")
            else None
        )
        target = _target(distribution, region_name)
        ami_name = target.get("AmiDistributionConfiguration", {}).get("Name") or recipe.name
        ec2 = ec2_backends[account_id][region_name]
        ami = ec2.register_image(
            name=ami_name.replace("{{ imagebuilder:buildDate }}", BUILD_DATE),
            description=f"built by the emulated Image Builder from {recipe.arn}",
        )
        tags = {"CreatedBy": "EC2 Image Builder", "Ec2ImageBuilderArn": recipe.arn}
        tags |= target.get("AmiDistributionConfiguration", {}).get("AmiTags", {})
        ec2.create_tags([ami.id], tags)
        _publish(target, ami.id, account_id, region_name)
        image_arn = arn(account_id, region_name, "image", recipe.name, recipe.props["Version"], "1")
        return cls(image_arn, recipe.name, props, image_id=ami.id, region=region_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name
    ):
        image = lookup(resource_name, cls) if cls.exists(resource_name) else None
        super().delete_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name
        )
        # DeletionSettings: Image Builder deletes the AMI with the image.
        if isinstance(image, cls) and cloudformation_json.get("Properties", {}).get(
            "DeletionSettings"
        ):
            ec2_backends[account_id][region_name].deregister_image(image.image_id)


def _target(distribution, region: str) -> dict:
    """The distribution's entry for this region ({} without a distribution)."""
    if distribution is None:
        return {}
    for entry in distribution.props["Distributions"]:
        if entry.get("Region") == region:
            return entry
    return {}


def _publish(target: dict, image_id: str, account: str, region: str) -> None:
    ssm = ssm_backends[account][region]
    for parameter in target.get("SsmParameterConfigurations", []):
        ssm.put_parameter(
            name=parameter["ParameterName"],
            description="published by the emulated Image Builder",
            value=image_id,
            parameter_type="String",
            allowed_pattern=None,
            keyid=None,
            overwrite=True,
            tags=[],
            data_type=parameter.get("DataType", "text"),
            tier=None,
            policies=None,
        )
