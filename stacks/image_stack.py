"""The image stack: EC2 Image Builder bakes the bundle's install phase into an AMI and publishes
its ID for the workbench stack (`image=baked`). Deployed on its own by `make image`."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.image_build import BakedImage
from stacks.image_component import InstallComponent
from stacks.image_distribution import ImageDistribution
from stacks.image_infrastructure import BuildInfrastructure
from stacks.image_lifecycle import ImageLifecycle
from stacks.image_network import BuildNetwork
from stacks.image_recipe import ImageRecipe
from workbench.config import WorkbenchConfig


class ImageStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: WorkbenchConfig,
        bundle_dir: Path,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        # Rendered from install_config(config) (app.py): configure-only values leave it, and so
        # the versions, unchanged. With cdk.json's defaults it is the workbench's own asset.
        self.bundle = s3_assets.Asset(self, "Bundle", path=str(bundle_dir))
        self.network = BuildNetwork(self, "Network")
        self.component = InstallComponent(self, "Component", config=config, bundle=self.bundle)
        self.recipe = ImageRecipe(self, "Recipe", config=config, component=self.component)
        self.infrastructure = BuildInfrastructure(
            self, "Infrastructure", config=config, network=self.network, bundle=self.bundle
        )
        self.distribution = ImageDistribution(self, "Distribution", config=config)
        self.lifecycle = ImageLifecycle(self, "Lifecycle", config=config, recipe=self.recipe)
        self.image = BakedImage(
            self,
            "Image",
            recipe=self.recipe,
            infrastructure=self.infrastructure,
            distribution=self.distribution,
            deletion_role=self.lifecycle.role,
        )
        self._add_outputs()

    def _add_outputs(self) -> None:
        CfnOutput(self, "ImageId", value=self.image.image_id, description="The baked AMI")
        CfnOutput(
            self,
            "PublishedParameter",
            value=self.distribution.parameter,
            description="The SSM parameter holding the newest baked AMI (image=baked reads it)",
        )
        CfnOutput(
            self,
            "RebuildCommand",
            value=(
                f"aws imagebuilder create-image --region {self.region}"
                f" --image-recipe-arn {self.recipe.arn}"
                f" --infrastructure-configuration-arn {self.infrastructure.arn}"
                f" --distribution-configuration-arn {self.distribution.arn}"
                " --image-tests-configuration imageTestsEnabled=false"
            ),
            description="Bake again from the newest Ubuntu image with the same content (the "
            "lifecycle policy deletes the oldest images)",
        )
