"""Read a synthesized workbench template back: its resources by type, the deployment record, the
revision and the readiness resources. Shared by tests/stack and tests/aws."""

from __future__ import annotations

from stacks.deployment import ASSOCIATION_LOGICAL_ID, DEPLOYMENT_PARAMETER_LOGICAL_ID


def resources(template: dict, type_: str) -> dict[str, dict]:
    """The template's resources of one type, by logical ID."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def deployment_record(template: dict) -> list:
    """The deployment parameter's value, which the instance reads: Fn::Join parts (text, and Refs
    / GetAtts)."""
    value = template["Resources"][DEPLOYMENT_PARAMETER_LOGICAL_ID]["Properties"]["Value"]
    return value["Fn::Join"][1]


def bundle_key(template: dict) -> str:
    """The S3 key of the bundle the deployment record names (`<hash>.zip`)."""
    text = "".join(p for p in deployment_record(template) if isinstance(p, str))
    (line,) = [x for x in text.splitlines() if x.endswith(".zip'")]
    return line.rsplit("/", 1)[1].removesuffix("'")


def revision_of(template: dict) -> str:
    """The revision the association applies (the last word of its one command)."""
    association = template["Resources"][ASSOCIATION_LOGICAL_ID]["Properties"]
    (command,) = association["Parameters"]["commands"]
    return command.rsplit(" ", 1)[1]


def readiness_ids(template: dict) -> tuple[str, str]:
    """The logical IDs of the (one) wait condition handle and the (one) wait condition."""
    (handle,) = resources(template, "AWS::CloudFormation::WaitConditionHandle")
    (condition,) = resources(template, "AWS::CloudFormation::WaitCondition")
    return handle, condition
