"""The idle stop: a CloudWatch alarm that stops (never terminates) an instance nobody uses."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from constructs import Construct

from workbench.idle import IDLE_CPU_PERCENT, IdleWindow


class IdleStop(Construct):
    """Stop the instance once its average CPU stays under IDLE_CPU_PERCENT for the whole window."""

    def __init__(self, scope: Construct, id_: str, *, instance_id: str, window: IdleWindow) -> None:
        super().__init__(scope, id_)
        cpu = cloudwatch.Metric(
            namespace="AWS/EC2",
            metric_name="CPUUtilization",
            dimensions_map={"InstanceId": instance_id},
            statistic=cloudwatch.Stats.AVERAGE,
            period=Duration.seconds(window.period_seconds),
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            metric=cpu,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            threshold=IDLE_CPU_PERCENT,
            evaluation_periods=window.evaluation_periods,
            datapoints_to_alarm=window.evaluation_periods,
            # A stopped instance sends no data. Counting that as "not idle" keeps the alarm OK
            # while stopped, so after a start it takes a full idle window again to stop; with
            # missing data ignored, CloudWatch could reach back to the low CPU from before the
            # stop and stop the instance right after it was started.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=(
                f"Stops the workbench after {window.minutes} minutes with average CPU under "
                f"{IDLE_CPU_PERCENT}% (idle_stop_minutes). Start it again with "
                "`aws ec2 start-instances`; users' files are on their own volume."
            ),
        )
        self.alarm.add_alarm_action(actions.Ec2Action(actions.Ec2InstanceAction.STOP))
