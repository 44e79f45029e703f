"""What moto (the AWS emulator of the tests and `make local`) lacks before it can create the stack.

moto has no Canonical public parameters and refuses put_parameter under /aws/*, and CDK's
templates check the bootstrap version parameter; both are put into moto's SSM backend directly.
"""

from __future__ import annotations

import datetime

from workbench.config import UBUNTU_AMI_PARAMETERS

REGION = "us-east-1"
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
BOOTSTRAP_VERSION = "30"


def seed_ssm(
    ami_id: str, *, region: str = REGION, account: str | None = None, bootstrapped: bool = True
) -> None:
    """Make the Ubuntu AMI parameters point at `ami_id`.

    `bootstrapped=True` also sets the CDK bootstrap version, for deploying a template without
    `cdk bootstrap` (the tests); the real `cdk bootstrap` creates it itself (local mode).
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ssm.models import ssm_backends

    account = account or DEFAULT_ACCOUNT_ID
    store = ssm_backends[account][region]._parameters
    values = {name: (ami_id, "aws:ec2:image") for name in UBUNTU_AMI_PARAMETERS.values()}
    if bootstrapped and not store.get(BOOTSTRAP_VERSION_PARAMETER):
        values[BOOTSTRAP_VERSION_PARAMETER] = (BOOTSTRAP_VERSION, "text")
    for name, (value, data_type) in values.items():
        store[name] = [_parameter(account, name, value, "String", data_type)]


def register_missing_models() -> None:
    """Teach moto's CloudFormation the resource types the workbench uses and moto lacks.

    Without them moto skips AWS::SecretsManager::Secret (so the role's policy loses its resource
    and create_stack fails) and AWS::CloudWatch::Alarm (the idle stop), and crashes on
    `Fn::GetAtt KeyPair.KeyPairId`. The models do what AWS does, through moto's own backends: a
    secret with a generated string, a key pair whose private key is stored in SSM at
    /ec2/keypair/<id>, and a metric alarm that `describe_alarms` lists. moto's own models of
    AWS::EC2::Volume (drops encryption, type, snapshot and tags) and AWS::EC2::VolumeAttachment
    (no physical ID, so describe_stack_resources omits the field) are replaced by ones that keep
    them. Deleting a volume is left to moto (it keeps it; no DeletionPolicy snapshot is made).

    moto skips AWS::CloudFormation::WaitConditionHandle and ::WaitCondition ("null models"): a
    `Ref` to the handle becomes the string "None", which would reach the instance's user data as
    its WORKBENCH_READY_URL, and the skipped condition leaves a hole in describe_stack_resources
    (an entry without a logical ID). The handle model gives it a presigned-URL-like value, as AWS
    does; the condition model completes at once, as if signalled: no instance runs in moto to
    signal it. Safe to call more than once.
    """
    from moto.cloudformation import parsing

    if _models_registered:
        return
    _define_models()
    # moto consults its null-model list before any registered model.
    for type_ in (WAIT_HANDLE_TYPE, WAIT_CONDITION_TYPE):
        if type_ in parsing.NULL_MODELS:
            parsing.NULL_MODELS.remove(type_)
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()


_models_registered: list[type] = []
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


def _define_models() -> None:
    import json
    import secrets
    import string

    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.common_models import CloudFormationModel
    from moto.ec2.models import ec2_backends
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.ssm.models import ssm_backends

    class Defaults:
        """What the emulated models share. A mixin, not a base class: moto finds models among
        CloudFormationModel's direct subclasses only."""

        TYPE = ""
        ATTRIBUTES: tuple[str, ...] = ()

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def cloudformation_type(cls) -> str:
            return cls.TYPE

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in cls.ATTRIBUTES

        @classmethod
        def delete_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name
        ):
            return None

    class EmulatedSecret(Defaults, CloudFormationModel):
        def __init__(self, arn: str, name: str) -> None:
            self.arn = arn
            self.name = name

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        TYPE = "AWS::SecretsManager::Secret"

        ATTRIBUTES = ("Id",)

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return self.arn

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            props = cloudformation_json.get("Properties", {})
            generator = props.get("GenerateSecretString")
            if generator is not None:
                alphabet = string.ascii_letters + string.digits
                length = int(generator.get("PasswordLength", 32))
                value = "".join(secrets.choice(alphabet) for _ in range(length))
            else:
                value = props.get("SecretString", "")
            backend = secretsmanager_backends[account_id][region_name]
            created = backend.create_secret(
                name=props.get("Name") or resource_name,
                secret_string=value,
                secret_binary=None,
                description=props.get("Description"),
                tags=props.get("Tags"),
                kms_key_id=None,
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
            details = json.loads(created)
            return cls(details["ARN"], details["Name"])

    class EmulatedKeyPair(Defaults, CloudFormationModel):
        def __init__(self, key_pair) -> None:
            self.key_pair = key_pair

        @staticmethod
        def cloudformation_name_type() -> str:
            return "KeyName"

        TYPE = "AWS::EC2::KeyPair"

        ATTRIBUTES = ("KeyPairId", "KeyFingerprint")

        def get_cfn_attribute(self, attribute_name: str) -> str:
            if attribute_name == "KeyPairId":
                return self.key_pair.id
            return self.key_pair.key_fingerprint

        @property
        def physical_resource_id(self) -> str:
            return self.key_pair.key_name

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            props = cloudformation_json.get("Properties", {})
            backend = ec2_backends[account_id][region_name]
            key_pair = backend.create_key_pair(
                props.get("KeyName") or resource_name, props.get("KeyType", "rsa"), {}
            )
            # As AWS does for CloudFormation-created key pairs.
            store = ssm_backends[account_id][region_name]._parameters
            name = f"/ec2/keypair/{key_pair.id}"
            store[name] = [
                _parameter(account_id, name, key_pair.key_material, "SecureString", "text")
            ]
            return cls(key_pair)

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name, cloudformation_json, account_id, region_name
        ):
            ec2_backends[account_id][region_name].delete_key_pair(resource_name)

    class EmulatedAlarm(Defaults, CloudFormationModel):
        def __init__(self, alarm) -> None:
            self.alarm = alarm

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        TYPE = "AWS::CloudWatch::Alarm"

        ATTRIBUTES = ("Arn",)

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return self.alarm.alarm_arn

        @property
        def physical_resource_id(self) -> str:
            return self.alarm.name

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            props = cloudformation_json.get("Properties", {})
            backend = cloudwatch_backends[account_id][region_name]
            alarm = backend.put_metric_alarm(
                name=props.get("AlarmName") or resource_name,
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

    class EmulatedVolume(Defaults, CloudFormationModel):
        TYPE = "AWS::EC2::Volume"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            props = cloudformation_json.get("Properties", {})
            backend = ec2_backends[account_id][region_name]
            volume = backend.create_volume(
                size=int(props["Size"]) if "Size" in props else None,
                zone_name=props["AvailabilityZone"],
                snapshot_id=props.get("SnapshotId"),
                encrypted=str(props.get("Encrypted", False)).lower() == "true",
                kms_key_id=props.get("KmsKeyId"),
                volume_type=props.get("VolumeType"),
                iops=int(props["Iops"]) if "Iops" in props else None,
                throughput=int(props["Throughput"]) if "Throughput" in props else None,
            )
            tags = {t["Key"]: t["Value"] for t in props.get("Tags", [])}
            if tags:
                backend.create_tags([volume.id], tags)
            return volume  # moto's own Volume: Ref gives its ID

    class EmulatedVolumeAttachment(Defaults, CloudFormationModel):
        def __init__(self, name: str, attachment) -> None:
            self.name = name
            self.attachment = attachment

        TYPE = "AWS::EC2::VolumeAttachment"

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            props = cloudformation_json["Properties"]
            attachment = ec2_backends[account_id][region_name].attach_volume(
                volume_id=props["VolumeId"],
                instance_id=props["InstanceId"],
                device_path=props["Device"],
            )
            return cls(resource_name, attachment)

    class EmulatedWaitConditionHandle(Defaults, CloudFormationModel):
        def __init__(self, url: str) -> None:
            self.url = url

        TYPE = WAIT_HANDLE_TYPE

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
        def __init__(self, name: str) -> None:
            self.name = name

        TYPE = WAIT_CONDITION_TYPE

        ATTRIBUTES = ("Data",)

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

    _models_registered.extend(
        [
            EmulatedSecret,
            EmulatedKeyPair,
            EmulatedAlarm,
            EmulatedVolume,
            EmulatedVolumeAttachment,
            EmulatedWaitConditionHandle,
            EmulatedWaitCondition,
        ]
    )


def _parameter(account: str, name: str, value: str, type_: str, data_type: str):
    from moto.ssm.models import Parameter

    return Parameter(
        account_id=account,
        name=name,
        value=value,
        parameter_type=type_,
        description="seeded by workbench.emulator",
        allowed_pattern=None,
        keyid=None,
        last_modified_date=datetime.datetime.now(datetime.UTC),
        version=1,
        data_type=data_type,
    )
