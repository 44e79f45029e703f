"""AWS::EC2::Volume: moto's own model drops encryption, type, snapshot and tags."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends

from workbench.local.emulator.models.base import Defaults, tags

# What EC2 cannot change on an existing volume: a new value means a new volume.
REPLACING = ("AvailabilityZone", "SnapshotId", "Encrypted", "KmsKeyId", "OutpostArn")


class EmulatedVolume(Defaults, CloudFormationModel):
    """A volume that keeps what the template asked for. Deleting it is left to moto (it keeps
    the volume; no DeletionPolicy snapshot is made)."""

    TYPE = "AWS::EC2::Volume"

    @classmethod
    def replaces(cls, old: dict, new: dict) -> bool:
        return any(old.get(key) != new.get(key) for key in REPLACING)

    @classmethod
    def update_in_place(cls, volume, old: dict, new: dict, account_id: str, region_name: str):
        """ModifyVolume (size, type, IOPS, throughput) and the tags."""
        if "Size" in new:
            volume.size = int(new["Size"])
        if "VolumeType" in new:
            volume.volume_type = new["VolumeType"]
        backend = ec2_backends[account_id][region_name]
        backend.create_tags([volume.id], tags(new))
        return volume

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        backend = ec2_backends[account_id][region_name]
        volume = backend.create_volume(
            size=int(props["Size"]) if "Size" in props else None,
            zone_name=props["AvailabilityZone"],
            snapshot_id=props.get("SnapshotId"),
            encrypted=str(props.get("Encrypted", False)).lower() == "true",
            kms_key_id=props.get("KmsKeyId"),
            volume_type=props.get("VolumeType"),
            iops=int(props["Iops"]) if "Iops" in props else None,
            throughput=int(props["Throughput"]) if "Throughput" in props else None,
        )
        if given := tags(props):
            backend.create_tags([volume.id], given)
        return volume  # moto's own Volume: Ref gives its ID
