"""AWS::CloudFormation::WaitConditionHandle and ::WaitCondition: moto skips both ("null models").

A `Ref` to the skipped handle becomes the string "None", which would reach the instance as its
WORKBENCH_READY_URL, and the skipped condition leaves a hole in describe_stack_resources (an entry
without a logical ID)."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator.models.base import Defaults

WAIT_HANDLE_TYPE = "AWS::CloudFormation::WaitConditionHandle"
WAIT_CONDITION_TYPE = "AWS::CloudFormation::WaitCondition"


def wait_handle_url(region: str, stack_id: str, logical_id: str) -> str:
    """What a `Ref` to a wait condition handle gives on AWS: a presigned S3 URL in CloudFormation's
    bucket for the region, with '&'-separated query parameters (here a dummy signature)."""
    from urllib.parse import quote

    key = quote(f"{stack_id}/{logical_id}", safe="")
    return (
        f"https://cloudformation-waitcondition-{region}.s3.amazonaws.com/{key}"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=86399&X-Amz-Signature=emulated"
    )


class EmulatedWaitConditionHandle(Defaults, CloudFormationModel):
    """A handle whose `Ref` is a presigned-URL-like value, as on AWS."""

    TYPE = WAIT_HANDLE_TYPE

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def physical_resource_id(self) -> str:
        return self.url  # Ref gives the URL, as on AWS

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        logical_id = kwargs.get("LogicalId", resource_name)
        return cls(wait_handle_url(region_name, kwargs.get("StackId", ""), logical_id))


class EmulatedWaitCondition(Defaults, CloudFormationModel):
    """A condition that completes at once, as if signalled: no instance runs in moto to signal
    it."""

    TYPE = WAIT_CONDITION_TYPE
    ATTRIBUTES = ("Data",)

    def __init__(self, name: str) -> None:
        self.name = name

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return "{}"  # the signals' data by unique ID: none arrive in moto

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        return cls(resource_name)
