"""AWS::ImageBuilder::LifecyclePolicy: moto has no Image Builder. Kept, never run (its rules act
on a schedule, on AWS)."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator.imagebuilder import ImageBuilderResource, arn, require


class EmulatedLifecyclePolicy(ImageBuilderResource, CloudFormationModel):
    TYPE = "AWS::ImageBuilder::LifecyclePolicy"
    ATTRIBUTES = ("Arn",)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        require(
            props,
            cls.TYPE,
            "Name",
            "ExecutionRole",
            "ResourceType",
            "PolicyDetails",
            "ResourceSelection",
        )
        name = props["Name"]
        return cls(arn(account_id, region_name, "lifecycle-policy", name), name, props)
