"""AWS::ImageBuilder::Component: moto has no Image Builder (create_stack fails on its Arn)."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator.imagebuilder import ImageBuilderError, ImageBuilderResource


class EmulatedComponent(ImageBuilderResource, CloudFormationModel):
    """A component version; like Image Builder, it refuses a name and version that exist."""

    TYPE = "AWS::ImageBuilder::Component"
    ATTRIBUTES = ("Arn", "Name", "Type", "Encrypted")
    KIND = "component"
    REQUIRES = ("Platform", "Version")
    VERSIONED = True

    def get_cfn_attribute(self, attribute_name: str):
        if attribute_name == "Type":
            return "BUILD"
        if attribute_name == "Encrypted":
            return True
        return super().get_cfn_attribute(attribute_name)

    @classmethod
    def check(cls, props):
        if ("Data" in props) == ("Uri" in props):
            raise ImageBuilderError(f"{cls.TYPE}: exactly one of Data and Uri")

    @classmethod
    def versions(cls, props):
        return (props["Version"], "1")  # a component's ARN names its build too
