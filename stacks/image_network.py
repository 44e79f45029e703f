"""The build network: where Image Builder's build instance runs, reachable from nowhere."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from stacks.acknowledge import acknowledge
from stacks.network import public_vpc


class BuildNetwork(Construct):
    """A VPC with one public subnet and a security group with no inbound rule.

    Its own VPC rather than the account's default one, which many accounts have deleted. Image
    Builder drives the build instance through Systems Manager, which the instance reaches
    outbound, so nothing needs to reach it: no ingress at all, not even SSH. Like the workbench's
    network: no NAT gateway and no custom resource (the default security group is left alone).
    """

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        self.vpc = public_vpc(self, cidr="10.21.0.0/24")
        acknowledge(
            self.vpc,
            reason="A build instance lives for one bake and accepts no inbound traffic at all: "
            "flow logs would add a log group and its cost without a consumer.",
            nag=["AwsSolutions-VPC7"],
        )
        self.subnet = self.vpc.public_subnets[0]
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=self.vpc,
            description="Workbench image build: no inbound; outbound for packages, S3 and SSM",
            # apt, Posit's .debs, nodejs.org, PyPI and npm, and the Systems Manager endpoints
            # through which Image Builder runs the build.
            allow_all_outbound=True,
        )
