"""The users' /home: its own encrypted volume, which outlives the instance and the stack."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Size
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from workbench.config import WorkbenchConfig

# Stable logical IDs: a renamed construct would replace the volume, i.e. start users over on an
# empty /home (the old one would survive only as a snapshot).
HOME_VOLUME_LOGICAL_ID = "WorkbenchHomeVolume"
HOME_DEVICE = "/dev/sdf"
"""The device name the instance attaches the volume as. Nitro instances show the volume as an NVMe
device instead, which home-volume.sh finds by the volume ID; Xen instances as /dev/xvdf."""


class HomeVolume(Construct):
    """An encrypted gp3 volume for /home, in the instance's availability zone.

    Deleting the stack (or replacing the volume) leaves a snapshot (`RemovalPolicy.SNAPSHOT`).
    With `home_snapshot_id` the volume starts as a copy of that snapshot.

    No AWS::EC2::VolumeAttachment: the instance attaches the volume itself, at boot (the
    `identity` step, assets/identity.sh). A replacement instance must take the volume over from
    the old one, which CloudFormation cannot do: it creates the new attachment before it deletes
    the old one, and EC2 refuses to attach a volume that another instance holds. A stack deployed
    before this change keeps its old attachment (it was retained): the volume is then attached
    to the current instance already, which the identity step accepts as it is. On `cdk destroy`
    the instance's termination frees the volume, which CloudFormation then snapshots.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: WorkbenchConfig,
        availability_zone: str,
    ) -> None:
        super().__init__(scope, id_)
        self.volume = ec2.Volume(
            self,
            "Volume",
            availability_zone=availability_zone,
            size=Size.gibibytes(config.home_volume_gb),
            volume_type=ec2.EbsDeviceVolumeType.GP3,
            encrypted=True,
            snapshot_id=config.home_snapshot_id,
            volume_name=f"{config.stack_name}-home",
            removal_policy=RemovalPolicy.SNAPSHOT,
        )
        self.volume.node.default_child.override_logical_id(HOME_VOLUME_LOGICAL_ID)
        self.device = HOME_DEVICE
