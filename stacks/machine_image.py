"""Which image the instance boots: Canonical's current Ubuntu, resolved by EC2 at launch, or an
exact `ami_id`.

CloudFormation re-resolves a template parameter of type AWS::SSM::Parameter::Value<...> at every
stack update ("CloudFormation always fetches the latest values from Parameter Store when it
updates stacks"), so once Canonical publishes a new image, the next deploy of any change would
replace the instance. An ImageId of `resolve:ssm:<parameter>` is resolved by EC2 instead, when it
launches the instance: the template holds the parameter's name, never its value, and stays the
same when Canonical publishes. A new image reaches a workbench only when something else replaces
the instance (README: "What a deploy does"). CDK's `cachedInContext` would pin the value at synth,
but it needs an account lookup, which the offline synth rules out.
"""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from stacks.acknowledge import acknowledge
from workbench.config import UBUNTU_AMI_PARAMETERS, WorkbenchConfig
from workbench.image import published_parameter


@jsii.implements(ec2.IMachineImage)
class ExactImage:
    """One AMI by ID, in any region (CDK's GenericLinuxImage wants a region map, which an
    environment-agnostic stack cannot key)."""

    def __init__(self, ami_id: str) -> None:
        self.ami_id = ami_id

    def get_image(self, scope: Construct) -> ec2.MachineImageConfig:
        return ec2.MachineImageConfig(
            image_id=self.ami_id,
            os_type=ec2.OperatingSystemType.LINUX,
            user_data=ec2.UserData.for_linux(),
        )


def machine_image(config: WorkbenchConfig) -> ec2.IMachineImage:
    """`ami_id` when pinned; with `image=baked`, the image stack's published parameter; otherwise
    the release's Canonical parameter. A parameter is resolved by EC2 at launch: publishing a
    new image (`make image`) replaces no running instance, and the next launch (a replacement, a
    recovery) takes the newest."""
    if config.ami_id is not None:
        return ExactImage(config.ami_id)
    parameter = (
        published_parameter(config)
        if config.image == "baked"
        else UBUNTU_AMI_PARAMETERS[config.ubuntu_release]
    )
    return ec2.MachineImage.resolve_ssm_parameter_at_launch(
        parameter, os=ec2.OperatingSystemType.LINUX
    )


def acknowledge_image_id(instance: CfnResource, config: WorkbenchConfig) -> None:
    """CloudFormation Validate's finding on the ImageId that `machine_image(config)` gives
    `instance`: a parameter resolved at launch is not a literal ID (E1152), an exact ID exists in
    one region only (W9010)."""
    if config.ami_id is None:
        acknowledge(
            instance,
            reason="ImageId is resolve:ssm:<parameter> (Canonical's, or the baked image's "
            "with image=baked), which EC2 resolves to an image ID when it launches the "
            "instance; the linter expects a literal ami-... ID.",
            nag=["CloudFormation-Validate::E1152"],
        )
    else:
        acknowledge(
            instance,
            reason="ami_id pins one exact image on purpose; it exists in one region, "
            "which the user chose with it.",
            nag=["CloudFormation-Validate::W9010"],
        )
