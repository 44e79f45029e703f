"""Policies on self-healing: EC2 recovers the instance when its host fails, by the launch
template's switch and by a system-status-check alarm with the recover action."""

from __future__ import annotations

import json

from stacks.recovery import RECOVERY_EVALUATION_PERIODS, RECOVERY_PERIOD_SECONDS
from stacks.server import INSTANCE_LOGICAL_ID

RECOVER_ACTION = {
    "Fn::Join": [
        "",
        ["arn:", {"Ref": "AWS::Partition"}, ":automate:", {"Ref": "AWS::Region"}, ":ec2:recover"],
    ]
}


def recovery_alarms(template: dict) -> list[dict]:
    return [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"]["MetricName"] == "StatusCheckFailed_System"
    ]


def test_a_failed_system_status_check_recovers_the_instance(synthesized):
    for context in ("default", "restore"):  # with and without the idle stop
        _, template = synthesized(context)
        (alarm,) = recovery_alarms(template)
        assert alarm["Namespace"] == "AWS/EC2"
        assert alarm["Dimensions"] == [
            {"Name": "InstanceId", "Value": {"Ref": INSTANCE_LOGICAL_ID}}
        ]
        assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
            "Maximum",
            "GreaterThanOrEqualToThreshold",
            1,
        )
        assert alarm["Period"] == RECOVERY_PERIOD_SECONDS == 60
        assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"]
        assert alarm["EvaluationPeriods"] == RECOVERY_EVALUATION_PERIODS
        assert alarm["AlarmActions"] == [RECOVER_ACTION]
        # A stopped instance reports nothing: never a recovery of a stopped workbench.
        assert alarm["TreatMissingData"] == "missing"


def test_only_the_host_check_is_acted_on(synthesized):
    _, template = synthesized("default")
    metrics = {
        r["Properties"]["MetricName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert metrics == {"CPUUtilization", "StatusCheckFailed_System"}
    assert ":ec2:reboot" not in json.dumps(template)


def test_the_launch_template_keeps_automatic_recovery_on(synthesized):
    _, template = synthesized("default")
    instance = template["Resources"][INSTANCE_LOGICAL_ID]["Properties"]
    launch_template = template["Resources"][instance["LaunchTemplate"]["LaunchTemplateId"]["Ref"]]
    data = launch_template["Properties"]["LaunchTemplateData"]
    assert data["MaintenanceOptions"] == {"AutoRecovery": "default"}
    assert instance["LaunchTemplate"]["Version"] == {
        "Fn::GetAtt": [instance["LaunchTemplate"]["LaunchTemplateId"]["Ref"], "LatestVersionNumber"]
    }
