"""AWS::ImageBuilder::ImageRecipe: moto has no Image Builder."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator.imagebuilder import ImageBuilderResource, lookup
from workbench.local.emulator.models.image_component import EmulatedComponent


class EmulatedImageRecipe(ImageBuilderResource, CloudFormationModel):
    """A recipe version whose components exist; a name and version that exist are refused."""

    TYPE = "AWS::ImageBuilder::ImageRecipe"

    KIND = "image-recipe"
    REQUIRES = ("Version", "ParentImage")
    VERSIONED = True

    @classmethod
    def check(cls, props):
        for component in props.get("Components", []):
            lookup(component["ComponentArn"], EmulatedComponent)
