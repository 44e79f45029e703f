"""AWS::EC2::KeyPair: moto has no model (a `Fn::GetAtt KeyPair.KeyPairId` crashes create_stack)."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends
from moto.ssm.models import ssm_backends

from workbench.local.emulator.models.base import Defaults
from workbench.local.emulator.parameters import ssm_parameter


class EmulatedKeyPair(Defaults, CloudFormationModel):
    """A key pair whose private key is stored in SSM at /ec2/keypair/<id>, as AWS does for key
    pairs that CloudFormation creates."""

    TYPE = "AWS::EC2::KeyPair"
    ATTRIBUTES = ("KeyPairId", "KeyFingerprint")

    def __init__(self, key_pair) -> None:
        self.key_pair = key_pair

    @staticmethod
    def cloudformation_name_type() -> str:
        return "KeyName"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "KeyPairId":
            return self.key_pair.id
        return self.key_pair.key_fingerprint

    @property
    def physical_resource_id(self) -> str:
        return self.key_pair.key_name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        backend = ec2_backends[account_id][region_name]
        key_pair = backend.create_key_pair(
            props.get("KeyName") or resource_name, props.get("KeyType", "rsa"), {}
        )
        store = ssm_backends[account_id][region_name]._parameters
        name = f"/ec2/keypair/{key_pair.id}"
        store[name] = [
            ssm_parameter(account_id, name, key_pair.key_material, "SecureString", "text")
        ]
        return cls(key_pair)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name
    ):
        ec2_backends[account_id][region_name].delete_key_pair(resource_name)
