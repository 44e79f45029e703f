"""What the instance may do to take over its identity (/home and the address) at boot.

The `identity` step of provision.sh (assets/identity.sh) attaches users' /home volume and
associates the Elastic IP with the instance it runs on. On a replacement, the volume is still
attached to the old instance of the same stack: the new one stops it, detaches the volume,
attaches it to itself and takes the address (and hands both back if its provisioning fails).
CloudFormation cannot do this itself: it creates the replacement and its attachments before it
deletes the old ones, and EC2 refuses to attach a volume that another instance holds.

The role may touch only this stack's volume and address by ID, and instances only when they
carry this stack's `aws:cloudformation:stack-name` tag (CloudFormation tags every instance it
creates); EC2's Describe calls cannot be narrowed to resources, so they are on `*`.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from stacks.acknowledge import acknowledge

STACK_NAME_TAG = "aws:cloudformation:stack-name"


def grant_identity(role: iam.Role, *, volume_id: str, allocation_id: str) -> None:
    """Add the takeover's permissions to `role`."""
    stack = Stack.of(role)

    def arn(resource: str, name: str) -> str:
        return stack.format_arn(service="ec2", resource=resource, resource_name=name)

    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="SeeVolumesInstancesAddresses",
            actions=["ec2:DescribeVolumes", "ec2:DescribeInstances", "ec2:DescribeAddresses"],
            resources=["*"],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="MoveItsHomeVolume",
            actions=["ec2:AttachVolume", "ec2:DetachVolume"],
            resources=[arn("volume", volume_id)],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="TakeItsAddress",
            actions=["ec2:AssociateAddress"],
            resources=[arn("elastic-ip", allocation_id)],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="TakeOverFromItsOtherInstances",
            actions=[
                "ec2:AttachVolume",
                "ec2:DetachVolume",
                "ec2:AssociateAddress",
                "ec2:StopInstances",
                "ec2:StartInstances",
            ],
            resources=[arn("instance", "*")],
            conditions={"StringEquals": {f"aws:ResourceTag/{STACK_NAME_TAG}": stack.stack_name}},
        )
    )
    acknowledge(
        role,
        reason="ec2:DescribeVolumes, DescribeInstances and DescribeAddresses support no "
        "resource-level permissions; they only read. Every call that changes anything is "
        "limited to this stack's volume, address and instances.",
        nag=["AwsSolutions::AwsSolutions-IAM5[Resource::*]"],
    )
    acknowledge(
        role,
        reason="The replacement instance's ID is not known to the old one (nor the other "
        "way round): instances are matched by the aws:cloudformation:stack-name tag that "
        "CloudFormation gives every instance of this stack (a condition on the statement).",
        nag=[
            "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:"
            "<AWS::Region>:<AWS::AccountId>:instance/*]"
        ],
    )
