"""EC2's rules that moto lacks, and a journal of what was asked of EC2.

moto's `attach_volume` attaches whatever it is given: a volume another instance holds (EC2:
VolumeInUse), a volume in another availability zone, an instance that is terminated, a device
name the instance already uses. Those are exactly the mistakes a replacement makes (CloudFormation
attaching /home to the new instance while the old one holds it), so the emulator refuses them as
EC2 does, with EC2's error codes. Also as EC2 does: an Elastic IP associates only with a running
or stopped instance, and a terminated instance gives its address back.

Every launch and every start of a stopped instance "boots" it: the instance agent hook
(workbench/local/emulator/agent.py), whoever asked for it. The journal records each RunInstances,
StopInstances, StartInstances, TerminateInstances, AttachVolume, DetachVolume and
AssociateAddress, whoever asked (the update engine, an instance's own script
through the API), so tests can say that a bundle-only update stopped nothing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from moto.ec2.exceptions import EC2ClientError, VolumeInUseError
from moto.ec2.models.elastic_block_store import EBSBackend
from moto.ec2.models.elastic_ip_addresses import ElasticAddressBackend
from moto.ec2.models.instances import Instance, InstanceBackend

from workbench.local.emulator import agent


class IncorrectInstanceState(EC2ClientError):
    def __init__(self, instance_id: str, state: str, operation: str) -> None:
        super().__init__(
            "IncorrectInstanceState",
            f"The instance '{instance_id}' is not in a state from which it can be {operation} "
            f"(it is {state}).",
        )


class ZoneMismatch(EC2ClientError):
    def __init__(self, volume_id: str, volume_zone: str, instance_zone: str) -> None:
        super().__init__(
            "InvalidVolume.ZoneMismatch",
            f"The volume '{volume_id}' is in {volume_zone}, not in the instance's zone "
            f"{instance_zone}.",
        )


class DeviceInUse(EC2ClientError):
    def __init__(self, device: str) -> None:
        super().__init__(
            "InvalidParameterValue",
            f"Invalid value '{device}' for unixDevice. Attachment point is already in use",
        )


@dataclass(frozen=True)
class Entry:
    at: float
    operation: str  # the EC2 API operation's name
    resource: str  # the instance or volume it was asked about
    detail: str = ""


JOURNAL: list[Entry] = []
_lock = threading.Lock()


def record(operation: str, resource: str, detail: str = "") -> None:
    with _lock:
        JOURNAL.append(Entry(time.monotonic(), operation, resource, detail))


def journal(*operations: str) -> list[Entry]:
    """The journal so far, or only the given operations."""
    with _lock:
        return [e for e in JOURNAL if not operations or e.operation in operations]


def clear_journal() -> None:
    with _lock:
        JOURNAL.clear()


_installed: list[bool] = []


def install() -> None:
    """Wrap moto's EC2 backend once (every account and region: the methods are the class's),
    and moto's Instance.delete, which would terminate the instance behind the backend's back."""
    if _installed:
        return
    attach = EBSBackend.attach_volume
    detach = EBSBackend.detach_volume
    associate = ElasticAddressBackend.associate_address
    run = InstanceBackend.run_instances
    stop = InstanceBackend.stop_instances
    start = InstanceBackend.start_instances
    terminate = InstanceBackend.terminate_instances

    def boot(self, instance_ids) -> None:
        for instance_id in instance_ids:
            agent.booted(instance_id, account=self.account_id, region=self.region_name)

    def run_instances(self, image_id, count, user_data, security_group_names, **kwargs):
        reservation = run(self, image_id, count, user_data, security_group_names, **kwargs)
        for instance in reservation.instances:
            record("RunInstances", instance.id, image_id)
        boot(self, [i.id for i in reservation.instances])
        return reservation

    def attach_volume(self, volume_id, instance_id, device_path, delete_on_termination=False):
        volume = self.get_volume(volume_id)
        instance = self.get_instance(instance_id)
        if volume.attachment is not None:
            raise VolumeInUseError(volume_id, volume.attachment.instance.id)
        if instance.state not in ("running", "stopped"):
            raise IncorrectInstanceState(instance_id, instance.state, "attached to")
        if volume.zone.name != instance.placement.zone:
            raise ZoneMismatch(volume_id, volume.zone.name, instance.placement.zone)
        if device_path in instance.block_device_mapping:
            raise DeviceInUse(device_path)
        record("AttachVolume", volume_id, instance_id)
        return attach(self, volume_id, instance_id, device_path, delete_on_termination)

    def detach_volume(self, volume_id, instance_id, device_path):
        record("DetachVolume", volume_id, instance_id)
        return detach(self, volume_id, instance_id, device_path)

    def associate_address(
        self, instance=None, eni=None, address=None, allocation_id=None, reassociate=False
    ):
        if instance is not None:
            if instance.state not in ("running", "stopped"):
                raise IncorrectInstanceState(instance.id, instance.state, "associated with")
            record("AssociateAddress", allocation_id or address or "", instance.id)
        return associate(self, instance, eni, address, allocation_id, reassociate)

    def stop_instances(self, instance_ids):
        for instance_id in instance_ids:
            record("StopInstances", instance_id)
            agent.halted(instance_id)
        return stop(self, instance_ids)

    def start_instances(self, instance_ids):
        stopped = [
            i.id for i in self.get_multi_instances_by_id(instance_ids) if i.state == "stopped"
        ]
        for instance_id in instance_ids:
            record("StartInstances", instance_id)
        started = start(self, instance_ids)
        boot(self, stopped)  # what runs at its boot (the instance agent hook)
        return started

    def terminate_instances(self, instance_ids):
        for instance_id in instance_ids:
            record("TerminateInstances", instance_id)
            agent.halted(instance_id)
            # A terminated instance's Elastic IP is disassociated, as on EC2.
            for eip in list(self.addresses):
                if eip.instance is not None and eip.instance.id == instance_id:
                    self.disassociate_address(address=eip.public_ip)
        return terminate(self, instance_ids)

    def delete(self, account_id, region):
        """CloudFormation's deletion of an instance (moto's stack delete, the emulator's update
        and rollback) is a TerminateInstances, under the rules above."""
        if self.state != "terminated":
            self.ec2_backend.terminate_instances([self.id])

    EBSBackend.attach_volume = attach_volume
    EBSBackend.detach_volume = detach_volume
    ElasticAddressBackend.associate_address = associate_address
    InstanceBackend.run_instances = run_instances
    InstanceBackend.stop_instances = stop_instances
    InstanceBackend.start_instances = start_instances
    InstanceBackend.terminate_instances = terminate_instances
    Instance.delete = delete
    _installed.append(True)
