"""Deploying a template into moto's CloudFormation, as a user's script would read it back."""

from __future__ import annotations

import json

import boto3

from workbench.local.emulator import REGION

KEY_NAME = "workbench-test"


def deploy(template: dict, stack_name: str = "Workbench") -> dict:
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
    )
    (stack,) = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    }
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return {"physical": physical, "outputs": outputs}
