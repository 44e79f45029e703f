"""AWS::CloudFormation::WaitConditionHandle and ::WaitCondition: moto skips both ("null models").

A `Ref` to the skipped handle becomes the string "None", which would reach the instance as its
WORKBENCH_READY_URL, and the skipped condition leaves a hole in describe_stack_resources (an entry
without a logical ID).

With no instance agent registered (workbench/local/emulator/agent.py: `make local`, most tests),
nothing runs on an emulated instance: the handle's URL is shaped like AWS's presigned S3 URL and
the condition completes at once, as if signalled. With an agent, the handle is a real endpoint
(workbench/local/emulator/signals.py) and the condition waits for the agent's signals as
CloudFormation waits for the instance's: a FAILURE fails it with the signal's reason."""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from workbench.local.emulator import agent, signals
from workbench.local.emulator.models.base import Defaults

WAIT_HANDLE_TYPE = "AWS::CloudFormation::WaitConditionHandle"
WAIT_CONDITION_TYPE = "AWS::CloudFormation::WaitCondition"


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
        stack_id = kwargs.get("StackId", "")
        if agent.current_agent() is not None:
            return cls(signals.handle_url(stack_id, logical_id))
        bucket = f"https://cloudformation-waitcondition-{region_name}.s3.amazonaws.com"
        return cls(signals.handle_url(stack_id, logical_id, base=bucket))


class EmulatedWaitCondition(Defaults, CloudFormationModel):
    """A condition that completes at once, as if signalled, unless an agent runs on the
    instances: then it waits for `Count` SUCCESS signals at its handle."""

    TYPE = WAIT_CONDITION_TYPE
    ATTRIBUTES = ("Data",)

    def __init__(self, name: str, data: dict[str, str]) -> None:
        self.name = name
        self.data = data

    def get_cfn_attribute(self, attribute_name: str) -> str:
        import json

        return json.dumps(self.data)  # the signals' data by unique ID

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        url = str(props.get("Handle", ""))
        if agent.current_agent() is None or not url.startswith(signals.start()):
            return cls(resource_name, {})
        from urllib.parse import urlsplit

        timeout = min(
            float(props.get("Timeout", signals.MAX_WAIT_SECONDS)), signals.MAX_WAIT_SECONDS
        )
        done = signals.SIGNALS.wait(urlsplit(url).path, int(props.get("Count", 1)), timeout)
        return cls(resource_name, {str(s.get("UniqueId")): str(s.get("Data", "")) for s in done})
