"""The users' /home: its own encrypted volume, which outlives the instance and the stack."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Size
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from workbench.config import WorkbenchConfig

# Stable logical IDs: a renamed construct would replace the volume, i.e. start users over on an
# empty /home (the old one would survive only as a snapshot).
HOME_VOLUME_LOGICAL_ID = "WorkbenchHomeVolume"
HOME_ATTACHMENT_LOGICAL_ID = "WorkbenchHomeAttachment"
HOME_DEVICE = "/dev/sdf"
"""The attachment's device name. Nitro instances show the volume as an NVMe device instead,
which home-volume.sh finds by the volume ID; Xen instances as /dev/xvdf."""


class HomeVolume(Construct):
    """An encrypted gp3 volume for /home, in the instance's availability zone.

    Deleting the stack (or replacing the volume) leaves a snapshot (`RemovalPolicy.SNAPSHOT`).
    With `home_snapshot_id` the volume starts as a copy of that snapshot. The volume does not
    depend on the instance, so the instance's user data can name it; the attachment, which
    depends on both, is added by `attach_to`. It is created as soon as the instance runs, while
    provisioning waits for the device (assets/home-volume.sh).
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
        self.attachment: ec2.CfnVolumeAttachment | None = None

    def attach_to(self, instance: ec2.Instance) -> ec2.CfnVolumeAttachment:
        # Its own resource rather than the instance's `Volumes` property, so that the volume's
        # life is not tied to the instance's.
        self.attachment = ec2.CfnVolumeAttachment(
            self,
            "Attachment",
            instance_id=instance.instance_id,
            volume_id=self.volume.volume_id,
            device=self.device,
        )
        self.attachment.override_logical_id(HOME_ATTACHMENT_LOGICAL_ID)
        # On `cdk destroy`, deleting the attachment would detach /home while it is mounted, which
        # EC2 may leave "busy" indefinitely. Left alone, it ends with the instance: termination
        # shuts the system down and frees the volume, which CloudFormation then snapshots.
        self.attachment.apply_removal_policy(RemovalPolicy.RETAIN)
        return self.attachment
