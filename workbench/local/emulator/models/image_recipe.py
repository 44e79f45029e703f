"""AWS::ImageBuilder::ImageRecipe: moto has no Image Builder."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator.imagebuilder import (
    ImageBuilderError,
    ImageBuilderResource,
    arn,
    lookup,
    require,
)
from workbench.local.emulator.models.image_component import EmulatedComponent


class EmulatedImageRecipe(ImageBuilderResource, CloudFormationModel):
    """A recipe version whose components exist; a name and version that exist are refused."""

    TYPE = "AWS::ImageBuilder::ImageRecipe"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        require(props, cls.TYPE, "Name", "Version", "ParentImage")
        for component in props.get("Components", []):
            lookup(component["ComponentArn"], EmulatedComponent)
        recipe_arn = arn(account_id, region_name, "image-recipe", props["Name"], props["Version"])
        if cls.exists(recipe_arn):
            raise ImageBuilderError(
                f"ResourceAlreadyExistsException: recipe {props['Name']} version "
                f"{props['Version']} already exists"
            )
        return cls(recipe_arn, props["Name"], props)
