"""AWS::ImageBuilder::InfrastructureConfiguration: moto has no Image Builder."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator.imagebuilder import ImageBuilderResource, arn, require


class EmulatedInfrastructureConfiguration(ImageBuilderResource, CloudFormationModel):
    TYPE = "AWS::ImageBuilder::InfrastructureConfiguration"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        require(props, cls.TYPE, "Name", "InstanceProfileName")
        name = props["Name"]
        return cls(arn(account_id, region_name, "infrastructure-configuration", name), name, props)
