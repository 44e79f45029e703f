"""What the emulated models share."""

from __future__ import annotations

from collections.abc import Mapping


def tags(props: Mapping) -> dict[str, str]:
    """A template's `Tags` ([{"Key": ..., "Value": ...}]) as a dict, as EC2's create_tags
    takes them."""
    return {t["Key"]: t["Value"] for t in props.get("Tags", [])}


class Defaults:
    """Defaults of an emulated CloudFormation model. A mixin, not a base class: moto finds models
    among `CloudFormationModel`'s direct subclasses only, so each model is declared as
    `class Emulated...(Defaults, CloudFormationModel)`."""

    TYPE = ""
    ATTRIBUTES: tuple[str, ...] = ()

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    # No delete_from_cloudformation_json: a model without its own leaves the deletion to its
    # resource's delete(), if it has one (moto's Instance: emulator/ec2.py), as moto's stack does.
