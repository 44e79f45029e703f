"""AWS::ImageBuilder::InfrastructureConfiguration: moto has no Image Builder."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator.imagebuilder import ImageBuilderResource


class EmulatedInfrastructureConfiguration(ImageBuilderResource, CloudFormationModel):
    TYPE = "AWS::ImageBuilder::InfrastructureConfiguration"
    KIND = "infrastructure-configuration"
    REQUIRES = ("InstanceProfileName",)
