"""AWS::ImageBuilder::DistributionConfiguration: moto has no Image Builder."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator.imagebuilder import ImageBuilderResource, arn, require


class EmulatedDistributionConfiguration(ImageBuilderResource, CloudFormationModel):
    """Kept for the image model, which distributes by it (the SSM parameters it names)."""

    TYPE = "AWS::ImageBuilder::DistributionConfiguration"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        require(props, cls.TYPE, "Name", "Distributions")
        name = props["Name"]
        return cls(arn(account_id, region_name, "distribution-configuration", name), name, props)
