"""Policies on the idle stop: a CPU alarm on the instance that stops it, never terminates it, and
is absent when `idle_stop_minutes` is 0."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from stacks.idle import IdleStop
from stacks.server import INSTANCE_LOGICAL_ID
from workbench.idle import IDLE_CPU_PERCENT, idle_window

STOP_ACTION = {
    "Fn::Join": [
        "",
        ["arn:", {"Ref": "AWS::Partition"}, ":automate:", {"Ref": "AWS::Region"}, ":ec2:stop"],
    ]
}


def alarms(template: dict) -> list[dict]:
    """The idle-stop alarms (the recovery alarm watches the status checks: test_recovery.py)."""
    return [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"]["MetricName"] == "CPUUtilization"
    ]


def test_idle_stop_watches_the_instances_average_cpu(synthesized):
    config, template = synthesized("default")
    (alarm,) = alarms(template)
    window = idle_window(config.idle_stop_minutes)
    assert alarm["Namespace"] == "AWS/EC2"
    assert alarm["MetricName"] == "CPUUtilization"
    assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": {"Ref": INSTANCE_LOGICAL_ID}}]
    assert alarm["Statistic"] == "Average"
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == IDLE_CPU_PERCENT
    # Default 60 minutes: twelve 5-minute periods (basic monitoring), all of them idle.
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (300, 12)
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"] == window.evaluation_periods
    # A stopped instance sends no data: that must not count as idle (see stacks/idle.py).
    assert alarm["TreatMissingData"] == "notBreaching"


def test_idle_stop_stops_and_never_terminates(synthesized):
    _, template = synthesized("default")
    (alarm,) = alarms(template)
    assert alarm["AlarmActions"] == [STOP_ACTION]
    assert "OKActions" not in alarm and "InsufficientDataActions" not in alarm
    assert "terminate" not in json.dumps(template).lower()


def test_idle_stop_minutes_0_removes_the_alarm(synthesized):
    config, template = synthesized("restore")
    assert config.idle_stop_minutes == 0
    assert alarms(template) == []


@pytest.mark.parametrize("minutes", [5, 7, 90, 1440, 1441, 10080])
def test_alarm_window_follows_idle_stop_minutes(minutes):
    stack = Stack(App(), "IdleOnly")
    IdleStop(stack, "IdleStop", instance_id="i-0123456789abcdef0", window=idle_window(minutes))
    (alarm,) = alarms(Template.from_stack(stack).to_json())
    window = idle_window(minutes)
    assert alarm["Period"] == window.period_seconds
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == window.evaluation_periods
    assert f"after {window.minutes} minutes" in alarm["AlarmDescription"]
    assert alarm["AlarmActions"] == [STOP_ACTION]
