"""The role of an instance that runs the bundle: the Systems Manager agent and read of the bundle
asset, each cdk-nag finding acknowledged. The workbench's instance (stacks/server.py) and the
image's build instance (stacks/image_infrastructure.py) both start from it."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.acknowledge import ASSET_READ_FINDINGS, acknowledge, managed_policy_finding

SSM_POLICY = "AmazonSSMManagedInstanceCore"


def bundle_instance_role(
    scope: Construct,
    *,
    description: str,
    bundle: s3_assets.Asset,
    agent_use: str,
    reader: str,
    managed_policies: Sequence[str] = (),
) -> iam.Role:
    """`scope`'s "Role": assumed by EC2, AmazonSSMManagedInstanceCore (what the agent is used
    for: `agent_use`) and `managed_policies` after it, and read of `bundle` (by `reader`)."""
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        description=description,
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name(name)
            for name in (SSM_POLICY, *managed_policies)
        ],
    )
    bundle.grant_read(role)
    acknowledge(
        role,
        reason=f"{SSM_POLICY} is AWS's maintained minimum for {agent_use}.",
        nag=[managed_policy_finding(SSM_POLICY)],
    )
    acknowledge(
        role,
        reason="From Asset.grant_read: read-only access to the CDK asset bucket that holds "
        f"the bundle; {reader} reads its bundle and nothing else there.",
        nag=ASSET_READ_FINDINGS,
    )
    return role
