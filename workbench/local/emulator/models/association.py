"""AWS::SSM::Association: moto has no model (nor State Manager).

An association here is what State Manager does with one: a run of its document on its targets
when it is created and each time it is updated (a new association version), through the instance
agent hook (workbench/local/emulator/agent.py). Only AWS-RunShellScript on instance IDs, what the
workbench uses; the runs are kept per association (`runs`) for tests to read.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator import agent
from workbench.local.emulator.models.base import Defaults

SUPPORTED_DOCUMENT = "AWS-RunShellScript"
_ids = itertools.count(1)


@dataclass
class Run:
    version: int
    instance_ids: tuple[str, ...]
    commands: tuple[str, ...]


@dataclass
class Association:
    association_id: str
    name: str
    version: int = 1
    runs: list[Run] = field(default_factory=list)


ASSOCIATIONS: dict[str, Association] = {}
"""Every association the emulator holds, by ID."""


def _targets(props: dict) -> tuple[str, ...]:
    if props.get("InstanceId"):
        return (props["InstanceId"],)
    ids: list[str] = []
    for target in props.get("Targets", []):
        if target.get("Key") != "InstanceIds":
            raise ValueError(f"emulated SSM association: target key {target.get('Key')!r}")
        ids += target.get("Values", [])
    return tuple(ids)


def _run(association: Association, props: dict, account: str, region: str) -> None:
    commands = tuple(props.get("Parameters", {}).get("commands", []))
    targets = _targets(props)
    association.runs.append(Run(association.version, targets, commands))
    for instance_id in targets:
        agent.send_command(instance_id, list(commands), account=account, region=region)


class EmulatedAssociation(Defaults, CloudFormationModel):
    TYPE = "AWS::SSM::Association"
    ATTRIBUTES = ("AssociationId",)

    def __init__(self, association: Association) -> None:
        self.association = association

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.association.association_id

    @property
    def physical_resource_id(self) -> str:
        return self.association.association_id

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        if props.get("Name") != SUPPORTED_DOCUMENT:
            raise ValueError(f"emulated SSM association: document {props.get('Name')!r}")
        association = Association(f"{next(_ids):08x}-0000-4000-8000-000000000000", props["Name"])
        ASSOCIATIONS[association.association_id] = association
        _run(association, props, account_id, region_name)
        return cls(association)

    @classmethod
    def update_in_place(cls, resource, old: dict, new: dict, account_id: str, region_name: str):
        """UpdateAssociation: a new version, which State Manager applies at once."""
        resource.association.version += 1
        _run(resource.association, new, account_id, region_name)
        return resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name
    ):
        ASSOCIATIONS.pop(resource_name, None)
