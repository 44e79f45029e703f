"""The synth floor for the workbench: one VPC, one security group, one instance, with the same CDK
version and the same validation settings (cdk-nag AwsSolutions + CloudFormation Validate).

Run: CDK_OUTDIR=<dir> python bench/minimal_app.py
"""

import os

from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from cdk_nag import AwsSolutionsChecks

app = App(outdir=os.environ.get("CDK_OUTDIR", "cdk.out.minimal"))
stack = Stack(app, "Minimal", analytics_reporting=False)
vpc = ec2.Vpc(
    stack,
    "Vpc",
    max_azs=1,
    nat_gateways=0,
    restrict_default_security_group=False,
    subnet_configuration=[
        ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC)
    ],
)
group = ec2.SecurityGroup(stack, "Group", vpc=vpc, description="HTTP from anywhere")
group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "HTTP")
instance = ec2.Instance(
    stack,
    "Instance",
    vpc=vpc,
    security_group=group,
    instance_type=ec2.InstanceType("t3.medium"),
    machine_image=ec2.MachineImage.from_ssm_parameter(
        "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
    ),
    require_imdsv2=True,
    block_devices=[
        ec2.BlockDevice(
            device_name="/dev/sda1",
            volume=ec2.BlockDeviceVolume.ebs(30, encrypted=True),
        )
    ],
)
reason = "benchmark floor: the same findings the workbench acknowledges, acknowledged alike"
Validations.of(stack).acknowledge(
    *(
        Acknowledgment(id=f"AwsSolutions-{rule}", reason=reason)
        for rule in ("VPC7", "EC23", "EC28", "EC29")
    ),
    Acknowledgment(
        id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:"
        "policy/AmazonSSMManagedInstanceCore]",
        reason=reason,
    ),
)
Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
