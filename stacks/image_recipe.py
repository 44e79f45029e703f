"""The recipe: Canonical's Ubuntu for `ubuntu_release`, plus the install component."""

from __future__ import annotations

from aws_cdk import aws_imagebuilder as imagebuilder
from constructs import Construct

from stacks.image_component import InstallComponent
from stacks.server import ROOT_DEVICE
from workbench.config import BAKED_ROOT_GB, WorkbenchConfig
from workbench.image import content_version, parent_image, resource_name

# Where AWSTOE keeps its working files during the build (Image Builder's default, named).
WORKING_DIRECTORY = "/tmp"
# The root volume, stated once: the recipe's property (these keywords) and the content its
# version hashes (the same in camelCase, as Image Builder's API names them).
ROOT_EBS = {
    "encrypted": True,
    "volume_size": BAKED_ROOT_GB,
    "volume_type": "gp3",
    "delete_on_termination": True,
}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


class ImageRecipe(Construct):
    """The parent image is the SSM parameter itself (`ssm:<name>`), which Image Builder resolves
    at each build: a rebuild starts from the newest Ubuntu image, and the recipe's text, and so
    its version, stays the same until the workbench's content changes.

    The root volume is encrypted gp3 of BAKED_ROOT_GB: the AMI's snapshots are encrypted, and so
    is every volume launched from them. The account's EBS key (aws/ebs) rather than a customer
    managed one: that would add a monthly charge and a key policy, and matters only for sharing the
    AMI across accounts, which the workbench never does.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: WorkbenchConfig,
        component: InstallComponent,
    ) -> None:
        super().__init__(scope, id_)
        self.name = resource_name(config, "recipe")
        content = {
            "parentImage": parent_image(config),
            "components": [{"name": component.name, "version": component.version}],
            "blockDeviceMappings": [
                {"deviceName": ROOT_DEVICE, "ebs": {_camel(k): v for k, v in ROOT_EBS.items()}}
            ],
            "workingDirectory": WORKING_DIRECTORY,
        }
        # Everything the recipe says, with the component by name and version (its ARN is a
        # deploy-time token): a new component version is a new recipe version.
        self.version = content_version(content)
        self.recipe = imagebuilder.CfnImageRecipe(
            self,
            "Recipe",
            name=self.name,
            version=self.version,
            parent_image=content["parentImage"],
            components=[
                imagebuilder.CfnImageRecipe.ComponentConfigurationProperty(
                    component_arn=component.arn
                )
            ],
            block_device_mappings=[
                imagebuilder.CfnImageRecipe.InstanceBlockDeviceMappingProperty(
                    device_name=ROOT_DEVICE,
                    ebs=imagebuilder.CfnImageRecipe.EbsInstanceBlockDeviceSpecificationProperty(
                        **ROOT_EBS
                    ),
                )
            ],
            working_directory=WORKING_DIRECTORY,
            description=f"Workbench on Ubuntu {config.ubuntu_release}, install phase baked",
        )
        self.arn = self.recipe.attr_arn
