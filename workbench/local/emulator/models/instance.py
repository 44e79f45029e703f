"""AWS::EC2::Instance: moto's model ignores the network interfaces (subnet, security group, public
address), the launch template and the instance profile, takes `resolve:ssm:` ImageIds literally
and cannot be updated at all.

This one launches as EC2 does from the template's properties, resolves a `resolve:ssm:<name>`
ImageId from moto's Parameter Store at launch (as EC2 does, so the template never holds the
image's ID), and knows, from CloudFormation's resource schema, which property changes replace the
instance (`replaces`) and which stop and start it (`RESTARTS`); an in-place update with such a
change stops the instance, changes it and starts it again through EC2 (so the emulator's journal,
workbench/local/emulator/ec2.py, records the StopInstances and StartInstances, and the start
boots it: the instance agent hook).
"""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends
from moto.ssm.models import ssm_backends

from workbench.local.emulator.models.base import Defaults, tags

# CloudFormation's resource schema for AWS::EC2::Instance: createOnlyProperties (a change
# replaces the instance) ...
CREATE_ONLY = frozenset(
    {
        "AvailabilityZone",
        "CpuOptions",
        "ElasticGpuSpecifications",
        "ElasticInferenceAccelerators",
        "EnclaveOptions",
        "HibernationOptions",
        "HostResourceGroupArn",
        "ImageId",
        "Ipv6AddressCount",
        "Ipv6Addresses",
        "KeyName",
        "LaunchTemplate",
        "LicenseSpecifications",
        "NetworkInterfaces",
        "PlacementGroupName",
        "PrivateIpAddress",
        "SecurityGroups",
        "SubnetId",
    }
)
# ... and, among its conditionally create-only ones, those the documentation says an EBS-backed
# instance applies with a stop and start ("Update requires: Some interruptions").
RESTARTS = frozenset(
    {"AdditionalInfo", "EbsOptimized", "InstanceType", "KernelId", "RamdiskId", "UserData"}
)


def _changed(old: dict, new: dict) -> set[str]:
    return {key for key in set(old) | set(new) if old.get(key) != new.get(key)}


def _without_delete_on_termination(mappings: list) -> list:
    return [
        {**m, "Ebs": {k: v for k, v in m.get("Ebs", {}).items() if k != "DeleteOnTermination"}}
        for m in mappings or []
    ]


def resolve_image(image_id: str, account: str, region: str) -> str:
    """What EC2 does with an ImageId of `resolve:ssm:<name>[:<version>]` when it launches."""
    if not image_id.startswith("resolve:ssm:"):
        return image_id
    name = image_id.removeprefix("resolve:ssm:")
    version = None
    if ":" in name.rsplit("/", 1)[-1]:
        name, version = name.rsplit(":", 1)
    history = ssm_backends[account][region]._parameters.get(name)
    if not history:
        raise ValueError(
            f"InvalidParameterValue: ImageId {image_id}: the SSM parameter {name} does not exist"
        )
    parameter = history[-1] if version is None else history[int(version) - 1]
    return parameter.value


class EmulatedInstance(Defaults, CloudFormationModel):
    """The model is a factory: what it returns is moto's own Instance (its `Ref` is the instance
    ID, its GetAtt the addresses and zone; moto's stack tags it). Deleting it is that Instance's
    delete(), a TerminateInstances (emulator/ec2.py)."""

    TYPE = "AWS::EC2::Instance"
    ATTRIBUTES = ("AvailabilityZone", "PrivateDnsName", "PublicDnsName", "PrivateIp", "PublicIp")

    @classmethod
    def replaces(cls, old: dict, new: dict) -> bool:
        """Whether changing the properties `old` into `new` replaces the instance."""
        changed = _changed(old, new)
        if changed & CREATE_ONLY:
            return True
        # Of the block devices, only DeleteOnTermination changes in place.
        if "BlockDeviceMappings" in changed:
            return _without_delete_on_termination(
                old.get("BlockDeviceMappings")
            ) != _without_delete_on_termination(new.get("BlockDeviceMappings"))
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        backend = ec2_backends[account_id][region_name]
        interfaces = props.get("NetworkInterfaces") or [{}]
        primary = next((n for n in interfaces if str(n.get("DeviceIndex", "0")) == "0"), {})
        group_ids = primary.get("GroupSet") or props.get("SecurityGroupIds") or []
        launch = {}
        if "LaunchTemplate" in props:
            template = props["LaunchTemplate"]
            launch = {
                "LaunchTemplateId": template.get("LaunchTemplateId"),
                "LaunchTemplateName": template.get("LaunchTemplateName"),
                "Version": str(template.get("Version", "$Default")),
            }
            launch = {k: v for k, v in launch.items() if v}
        profile = props.get("IamInstanceProfile")
        reservation = backend.run_instances(
            image_id=resolve_image(props["ImageId"], account_id, region_name),
            user_data=props.get("UserData"),
            count=1,
            security_group_names=[],
            security_group_ids=group_ids,
            instance_type=props.get("InstanceType", "m1.small"),
            is_instance_type_default=not props.get("InstanceType"),
            subnet_id=primary.get("SubnetId") or props.get("SubnetId"),
            associate_public_ip=str(primary.get("AssociatePublicIpAddress", "")).lower() == "true",
            key_name=props.get("KeyName"),
            private_ip=props.get("PrivateIpAddress"),
            block_device_mappings=props.get("BlockDeviceMappings", []),
            launch_template=launch or None,
            region_name=region_name,
        )
        (instance,) = reservation.instances
        for key, value in tags(props).items():
            instance.add_tag(key, value)
        if profile:
            backend.associate_iam_instance_profile(
                instance_id=instance.id, iam_instance_profile_name=profile
            )
        return instance

    @classmethod
    def update_in_place(cls, instance, old: dict, new: dict, account_id: str, region_name: str):
        """An update that keeps the instance (the update engine replaces it when `replaces`): a
        change of a property in RESTARTS stops it, changes it and starts it again, as
        CloudFormation does with an EBS-backed instance; the rest changes as it runs."""
        backend = ec2_backends[account_id][region_name]
        changed = _changed(old, new)
        restart = bool(changed & RESTARTS) and instance.state == "running"
        if restart:
            backend.stop_instances([instance.id])
        if "UserData" in changed:
            instance.user_data = [new["UserData"]] if new.get("UserData") else None
        if "InstanceType" in changed:
            backend.modify_instance_attribute(instance.id, "instance_type", new["InstanceType"])
        if "Tags" in changed:
            backend.delete_tags([instance.id], tags(old))
            backend.create_tags([instance.id], tags(new))
        if restart:
            backend.start_instances([instance.id])  # boots it (emulator/ec2.py)
        return instance
