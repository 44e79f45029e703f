"""What the emulated Image Builder models share: moto has no Image Builder at all, so these keep
the resources a stack creates, by ARN, for the image model to build from (its recipe, its
distribution). The table hangs on moto's EC2 backend of the account and region, so moto's reset
between tests (a new `mock_aws`) empties it with everything else."""

from __future__ import annotations

from typing import Any

from workbench.local.emulator.models.base import Defaults

_TABLE = "_workbench_imagebuilder"


def resources(account: str, region: str) -> dict[str, ImageBuilderResource]:
    """ARN -> resource, for one account and region."""
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region].__dict__.setdefault(_TABLE, {})


def _table_of(arn_: str) -> dict[str, ImageBuilderResource]:
    _, _, _, region, account, _ = arn_.split(":", 5)
    return resources(account, region)


class ImageBuilderError(ValueError):
    """What Image Builder's API would refuse; create_stack fails with this message."""


def arn(account: str, region: str, kind: str, name: str, *versions: str) -> str:
    """Image Builder's ARN for a resource of `kind` (`component`, `image-recipe`, ...): names are
    lower-cased; versioned resources add their version (and build number)."""
    path = "/".join((kind, name.lower(), *versions))
    return f"arn:aws:imagebuilder:{region}:{account}:{path}"


def require(props: dict[str, Any], type_: str, *keys: str) -> None:
    missing = [k for k in keys if props.get(k) in (None, "", [])]
    if missing:
        raise ImageBuilderError(f"{type_}: missing required properties {', '.join(missing)}")


def lookup(value: str, kind: type[ImageBuilderResource]) -> Any:
    """The resource an ARN property names; one that does not exist fails as on AWS."""
    found = _table_of(value).get(value) if value.count(":") >= 5 else None
    if not isinstance(found, kind):
        raise ImageBuilderError(f"{kind.TYPE}: {value!r} does not exist")
    return found


class ImageBuilderResource(Defaults):
    """A resource with an ARN (its Ref and its `Arn` attribute) and a name, remembered in
    RESOURCES. A mixin, like Defaults: each model also derives from CloudFormationModel, and
    says its ARN's KIND, the properties it REQUIRES besides Name, and what else it refuses."""

    ATTRIBUTES: tuple[str, ...] = ("Arn", "Name")
    KIND: str
    """The ARN's resource kind: `component`, `image-recipe`, ..."""
    REQUIRES: tuple[str, ...] = ()
    VERSIONED = False
    """Name and Version make a version (build 1 for a component), which cannot be made twice."""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        require(props, cls.TYPE, "Name", *cls.REQUIRES)
        cls.check(props)
        name = props["Name"]
        versions = cls.versions(props) if cls.VERSIONED else ()
        arn_ = arn(account_id, region_name, cls.KIND, name, *versions)
        if versions and cls.exists(arn_):
            raise ImageBuilderError(
                f"ResourceAlreadyExistsException: {cls.KIND} {name} version "
                f"{props['Version']} already exists"
            )
        return cls(arn_, name, props)

    @classmethod
    def check(cls, props: dict[str, Any]) -> None:
        """Image Builder's refusals beyond a missing property (none by default)."""

    @classmethod
    def versions(cls, props: dict[str, Any]) -> tuple[str, ...]:
        return (props["Version"],)

    def __init__(self, arn_: str, name: str, props: dict[str, Any]) -> None:
        self.arn = arn_
        self.name = name
        self.props = props
        _table_of(arn_)[arn_] = self

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return {"Arn": self.arn, "Name": self.name}[attribute_name]

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name
    ):
        if resource_name and resource_name.count(":") >= 5:
            _table_of(resource_name).pop(resource_name, None)

    @classmethod
    def exists(cls, arn_: str) -> bool:
        return arn_ in _table_of(arn_)
