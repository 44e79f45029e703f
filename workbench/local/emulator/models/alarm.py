"""AWS::CloudWatch::Alarm: moto skips it with a warning."""

from __future__ import annotations

from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel

from workbench.local.emulator.models.base import Defaults


class EmulatedAlarm(Defaults, CloudFormationModel):
    """A metric alarm in moto's CloudWatch, listed by `describe_alarms`."""

    TYPE = "AWS::CloudWatch::Alarm"
    ATTRIBUTES = ("Arn",)

    def __init__(self, alarm) -> None:
        self.alarm = alarm

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.alarm.alarm_arn

    @property
    def physical_resource_id(self) -> str:
        return self.alarm.name

    @classmethod
    def replaces(cls, old: dict, new: dict) -> bool:
        return old.get("AlarmName") != new.get("AlarmName")  # its one create-only property

    @classmethod
    def update_in_place(cls, resource, old: dict, new: dict, account_id: str, region_name: str):
        """PutMetricAlarm again under the same name: CloudWatch replaces its settings."""
        return cls._put(resource.alarm.name, new, account_id, region_name)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        props = cloudformation_json.get("Properties", {})
        return cls._put(props.get("AlarmName") or resource_name, props, account_id, region_name)

    @classmethod
    def _put(cls, name: str, props: dict, account_id: str, region_name: str):
        backend = cloudwatch_backends[account_id][region_name]
        alarm = backend.put_metric_alarm(
            name=name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            datapoints_to_alarm=(
                int(props["DatapointsToAlarm"]) if "DatapointsToAlarm" in props else None
            ),
            period=int(props["Period"]) if "Period" in props else None,
            threshold=float(props["Threshold"]) if "Threshold" in props else None,
            statistic=props.get("Statistic"),
            extended_statistic=props.get("ExtendedStatistic"),
            description=props.get("AlarmDescription"),
            dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            unit=props.get("Unit"),
            actions_enabled=props.get("ActionsEnabled", True) in (True, "true"),
            treat_missing_data=props.get("TreatMissingData"),
        )
        return cls(alarm)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name, cloudformation_json, account_id, region_name
    ):
        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])
