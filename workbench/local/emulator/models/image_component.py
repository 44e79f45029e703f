"""AWS::ImageBuilder::Component: moto has no Image Builder (create_stack fails on its Arn)."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator.imagebuilder import (
    ImageBuilderError,
    ImageBuilderResource,
    arn,
    require,
)


class EmulatedComponent(ImageBuilderResource, CloudFormationModel):
    """A component version; like Image Builder, it refuses a name and version that exist."""

    TYPE = "AWS::ImageBuilder::Component"
    ATTRIBUTES = ("Arn", "Name", "Type", "Encrypted")

    def get_cfn_attribute(self, attribute_name: str):
        if attribute_name == "Type":
            return "BUILD"
        if attribute_name == "Encrypted":
            return True
        return super().get_cfn_attribute(attribute_name)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        require(props, cls.TYPE, "Name", "Platform", "Version")
        if ("Data" in props) == ("Uri" in props):
            raise ImageBuilderError(f"{cls.TYPE}: exactly one of Data and Uri")
        component_arn = arn(
            account_id, region_name, "component", props["Name"], props["Version"], "1"
        )
        if cls.exists(component_arn):
            raise ImageBuilderError(
                f"ResourceAlreadyExistsException: component {props['Name']} version "
                f"{props['Version']} already exists"
            )
        return cls(component_arn, props["Name"], props)
