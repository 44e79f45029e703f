"""AWS::ImageBuilder::LifecyclePolicy: moto has no Image Builder. Kept, never run (its rules act
on a schedule, on AWS)."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator.imagebuilder import ImageBuilderResource


class EmulatedLifecyclePolicy(ImageBuilderResource, CloudFormationModel):
    TYPE = "AWS::ImageBuilder::LifecyclePolicy"
    ATTRIBUTES = ("Arn",)
    KIND = "lifecycle-policy"
    REQUIRES = ("ExecutionRole", "ResourceType", "PolicyDetails", "ResourceSelection")
