"""Deploying a template into moto's CloudFormation, as a user's script would read it back."""

from __future__ import annotations

import json

import boto3

from workbench.local.emulator import REGION

KEY_NAME = "workbench-test"
STACK = "Workbench"


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def stack_state(stack_name: str = STACK) -> dict:
    """The stack as `describe-stacks` and `describe-stack-resources` give it: its status, each
    resource's physical ID by logical ID, and its outputs."""
    (stack,) = cfn().describe_stacks(StackName=stack_name)["Stacks"]
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn().describe_stack_resources(StackName=stack_name)["StackResources"]
    }
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return {"status": stack["StackStatus"], "physical": physical, "outputs": outputs}


def events(stack_name: str = STACK) -> list[tuple[str, str, str]]:
    """(logical ID, status, reason) of each of the stack's events, oldest first."""
    found = cfn().describe_stack_events(StackName=stack_name)["StackEvents"]
    return [
        (e.get("LogicalResourceId", ""), e["ResourceStatus"], e.get("ResourceStatusReason") or "")
        for e in reversed(found)
    ]


def deploy(template: dict, stack_name: str = STACK) -> dict:
    """Create the stack; it must complete. Returns its stack_state()."""
    cfn().create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
    )
    state = stack_state(stack_name)
    assert state["status"] == "CREATE_COMPLETE", events(stack_name)
    return state
