"""AWS::ImageBuilder::DistributionConfiguration: moto has no Image Builder."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator.imagebuilder import ImageBuilderResource


class EmulatedDistributionConfiguration(ImageBuilderResource, CloudFormationModel):
    """Kept for the image model, which distributes by it (the SSM parameters it names)."""

    TYPE = "AWS::ImageBuilder::DistributionConfiguration"
    KIND = "distribution-configuration"
    REQUIRES = ("Distributions",)
