"""AWS::SecretsManager::Secret: moto skips it, so a role's policy would lose its resource."""

from __future__ import annotations

import json
import secrets
import string

from moto.core.common_models import CloudFormationModel
from moto.secretsmanager.models import secretsmanager_backends

from workbench.local.emulator.models.base import Defaults


class EmulatedSecret(Defaults, CloudFormationModel):
    """A secret in moto's Secrets Manager, with a generated string as AWS generates one."""

    TYPE = "AWS::SecretsManager::Secret"
    ATTRIBUTES = ("Id",)

    def __init__(self, arn: str, name: str) -> None:
        self.arn = arn
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        generator = props.get("GenerateSecretString")
        if generator is not None:
            alphabet = string.ascii_letters + string.digits
            length = int(generator.get("PasswordLength", 32))
            value = "".join(secrets.choice(alphabet) for _ in range(length))
        else:
            value = props.get("SecretString", "")
        backend = secretsmanager_backends[account_id][region_name]
        created = backend.create_secret(
            name=props.get("Name") or resource_name,
            secret_string=value,
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=None,
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        details = json.loads(created)
        return cls(details["ARN"], details["Name"])
