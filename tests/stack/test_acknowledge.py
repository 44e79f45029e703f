"""stacks/acknowledge.py: one call, one reason, both checkers (cdk-nag and checkov)."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from stacks.acknowledge import AcknowledgeError, acknowledge

REASON = "Build logs hold package installs and nothing sensitive; a customer managed key adds cost."


def test_checkov_skips_land_in_the_resources_metadata_and_accumulate():
    stack = Stack(App(), "Ack")
    group = logs.LogGroup(stack, "Logs")
    acknowledge(group, reason=REASON, checkov=["CKV_AWS_158"])
    acknowledge(group, reason=REASON + " Again.", checkov=["CKV_AWS_66", "CKV_AWS_158"])
    (resource,) = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup").values()
    assert resource["Metadata"]["checkov"] == {
        "skip": [
            {"id": "CKV_AWS_158", "comment": REASON},
            {"id": "CKV_AWS_66", "comment": REASON + " Again."},
        ]
    }


def test_a_thin_reason_or_no_finding_is_refused():
    stack = Stack(App(), "Ack")
    group = logs.LogGroup(stack, "Logs")
    with pytest.raises(AcknowledgeError, match="reason: got 'fine'; expected at least 60"):
        acknowledge(group, reason="fine", nag=["AwsSolutions-IAM4"])
    with pytest.raises(AcknowledgeError, match="got no finding"):
        acknowledge(group, reason=REASON)


def test_checkov_needs_a_cloudformation_resource():
    stack = Stack(App(), "Ack")
    with pytest.raises(AcknowledgeError, match="expected a CloudFormation resource"):
        acknowledge(stack, reason=REASON, checkov=["CKV_AWS_158"])
    topic = sns.Topic(stack, "Topic")
    acknowledge(topic.node.default_child, reason=REASON, checkov=["CKV_AWS_26"])
