"""AWS::EC2::VolumeAttachment: moto's own model has no physical ID, so describe_stack_resources
omits the field."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends

from workbench.local.emulator.models.base import Defaults


class EmulatedVolumeAttachment(Defaults, CloudFormationModel):
    TYPE = "AWS::EC2::VolumeAttachment"

    def __init__(self, name: str, attachment) -> None:
        self.name = name
        self.attachment = attachment

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json["Properties"]
        attachment = ec2_backends[account_id][region_name].attach_volume(
            volume_id=props["VolumeId"],
            instance_id=props["InstanceId"],
            device_path=props["Device"],
        )
        return cls(resource_name, attachment)
