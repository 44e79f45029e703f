"""The network: one public subnet, and the security group that is the chapter's firewall."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from stacks.acknowledge import acknowledge
from workbench.config import WorkbenchConfig
from workbench.services import HTTP_PORT, HTTPS_PORT, SSH_PORT

# Stable logical ID: a renamed construct must not replace the group (and the instance with it).
SECURITY_GROUP_LOGICAL_ID = "WorkbenchSecurityGroup"


def public_vpc(scope: Construct, *, cidr: str) -> ec2.Vpc:
    """A VPC in one zone with one public subnet ("Vpc" in `scope`): no NAT gateway (nothing
    private needs egress) and no custom resource (its default security group left alone)."""
    return ec2.Vpc(
        scope,
        "Vpc",
        ip_addresses=ec2.IpAddresses.cidr(cidr),
        max_azs=1,
        nat_gateways=0,
        restrict_default_security_group=False,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=26)
        ],
    )


class WorkbenchNetwork(Construct):
    """A VPC with a single public subnet and the workbench's security group.

    No NAT gateway (nothing private needs egress) and no custom resources: the VPC's default
    security group is left alone (`restrict_default_security_group=False`) so that no Lambda
    appears, which keeps the template deployable into an AWS emulator too.
    """

    def __init__(self, scope: Construct, id_: str, *, config: WorkbenchConfig) -> None:
        super().__init__(scope, id_)
        self.vpc = public_vpc(self, cidr="10.20.0.0/24")
        acknowledge(
            self.vpc,
            reason="One instance in one subnet: flow logs would add a log group and cost "
            "without a consumer; NGINX access logs on the instance record the web traffic.",
            nag=["AwsSolutions-VPC7"],
        )

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=self.vpc,
            description="Workbench: HTTP 80 to NGINX from anywhere; SSH 22 from ssh_cidr",
            # The instance installs packages from the internet.
            allow_all_outbound=True,
        )
        self.security_group.node.default_child.override_logical_id(SECURITY_GROUP_LOGICAL_ID)
        self.security_group.add_ingress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(HTTP_PORT),
            "HTTP to NGINX, which proxies each service by path",
        )
        if config.https_on:
            # Only with HTTPS on: the default stays the chapter's 22 + 80. Port 80 stays open
            # too: it answers Let's Encrypt's http-01 challenges and redirects to 443.
            self.security_group.add_ingress_rule(
                ec2.Peer.any_ipv4(),
                ec2.Port.tcp(HTTPS_PORT),
                f"HTTPS to NGINX (https={config.https}); port 80 only redirects",
            )
        if config.ssh_cidr is not None:
            self.security_group.add_ingress_rule(
                ec2.Peer.ipv4(config.ssh_cidr),
                ec2.Port.tcp(SSH_PORT),
                "SSH for administration and tunnels (ssh_cidr)",
            )
        if config.ssh_cidr == "0.0.0.0/0":
            acknowledge(
                self.security_group,
                nag=["CloudFormation-Validate::W2508"],
                checkov=["CKV_AWS_24"],
                reason="ssh_cidr defaults to the world so a first deploy is reachable; set "
                "ssh_cidr to your own address, or none to close port 22.",
            )
        acknowledge(
            self.security_group,
            nag=["AwsSolutions-EC23"],
            checkov=["CKV_AWS_260"],
            reason="Port 80 is public by design (the workbench's single web entry point), "
            "and 443 with https on (80 then only redirects and answers ACME challenges); "
            "port 22 follows the ssh_cidr setting, and ssh_cidr=none removes it.",
        )
