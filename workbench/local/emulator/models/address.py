"""AWS::EC2::EIP: moto's model has no PublicIp attribute (the outputs' address), ignores tags and
never releases the address when the stack goes."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends

from workbench.local.emulator.models.base import Defaults, tags


class EmulatedAddress(Defaults, CloudFormationModel):
    """An Elastic IP in moto's EC2; `Ref` gives its address, as on AWS."""

    TYPE = "AWS::EC2::EIP"
    ATTRIBUTES = ("AllocationId", "PublicIp")

    def __init__(self, eip) -> None:
        self.eip = eip

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "AllocationId":
            return self.eip.allocation_id
        return self.eip.public_ip

    @property
    def physical_resource_id(self) -> str:
        return self.eip.public_ip

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        backend = ec2_backends[account_id][region_name]
        eip = backend.allocate_address(domain=props.get("Domain", "vpc"))
        if given := tags(props):
            backend.create_tags([eip.allocation_id], given)
        return cls(eip)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name
    ):
        backend = ec2_backends[account_id][region_name]
        if backend.address_by_ip([resource_name], fail_if_not_found=False):
            backend.release_address(address=resource_name)
