"""Self-healing: when the hardware under the instance fails, EC2 recovers it onto another host.

Two switches, both kept on: the launch template's `MaintenanceOptions.AutoRecovery` ("default":
EC2's simplified automatic recovery, stacks/server.py), and this alarm, the documented explicit
form: `StatusCheckFailed_System` (AWS's own check of the host: power, network, hardware) with the
`ec2:recover` action. A recovered instance keeps its ID, its private and Elastic IP addresses, its
EBS volumes (root and /home) and its metadata; it reboots, and the bootstrap provisions at boot as
after any reboot. The instance-status check (`StatusCheckFailed_Instance`: a hung kernel, a full
disk) is deliberately not acted on: recovery does not fix those, and a reboot action could loop.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from constructs import Construct

# AWS's example for the recover action: the system check failing in 2 consecutive minutes.
RECOVERY_PERIOD_SECONDS = 60
RECOVERY_EVALUATION_PERIODS = 2


class Recovery(Construct):
    def __init__(self, scope: Construct, id_: str, *, instance_id: str) -> None:
        super().__init__(scope, id_)
        failed = cloudwatch.Metric(
            namespace="AWS/EC2",
            metric_name="StatusCheckFailed_System",
            dimensions_map={"InstanceId": instance_id},
            # 0 or 1 each minute (status checks are free, at 1-minute resolution).
            statistic=cloudwatch.Stats.MAXIMUM,
            period=Duration.seconds(RECOVERY_PERIOD_SECONDS),
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            metric=failed,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            threshold=1,
            evaluation_periods=RECOVERY_EVALUATION_PERIODS,
            datapoints_to_alarm=RECOVERY_EVALUATION_PERIODS,
            # A stopped instance (the idle stop) reports nothing: that is not a failure, and a
            # recover action on a stopped instance would fail anyway.
            treat_missing_data=cloudwatch.TreatMissingData.MISSING,
            alarm_description=(
                "Recovers the workbench onto healthy hardware when EC2's system status check "
                "fails for 2 minutes: same instance, volumes and Elastic IP, after a reboot."
            ),
        )
        self.alarm.add_alarm_action(actions.Ec2Action(actions.Ec2InstanceAction.RECOVER))
