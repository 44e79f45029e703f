"""The workbench stack: wires the network, the server, the users' passwords and /home volume, the
address, the deployment the instance applies, deploy readiness, recovery and the idle stop
together and says how to reach them."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnCondition, CfnOutput, Fn, Stack
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.address import WorkbenchAddress
from stacks.deployment import Deployment
from stacks.dns import DnsRecord
from stacks.identity import grant_identity
from stacks.idle import IdleStop
from stacks.network import WorkbenchNetwork
from stacks.passwords import UserPasswords
from stacks.readiness import Readiness, revision
from stacks.recovery import Recovery
from stacks.server import WorkbenchServer
from stacks.storage import HomeVolume
from workbench.config import WorkbenchConfig
from workbench.deployment import parameter_name
from workbench.idle import idle_window
from workbench.outputs import OutputSpec, output_specs


class WorkbenchStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: WorkbenchConfig,
        bundle_dir: Path,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.config = config
        self.network = WorkbenchNetwork(self, "Network", config=config)
        self.home = self._add_home_volume()
        self.address = WorkbenchAddress(self, "Address", config=config)
        # The asset is exactly the directory render_bundle wrote.
        self.bundle = s3_assets.Asset(self, "Bundle", path=str(bundle_dir))
        self.deployment_parameter = parameter_name(config.stack_name)
        self.server = WorkbenchServer(
            self,
            "Server",
            config=config,
            vpc=self.network.vpc,
            security_group=self.network.security_group,
            bundle=self.bundle,
            parameter_name=self.deployment_parameter,
        )
        self.passwords = UserPasswords(self, "Passwords", config=config, reader=self.server.role)
        self._add_deployment()
        grant_identity(
            self.server.role,
            volume_id=self.home.volume.volume_id,
            allocation_id=self.address.allocation_id,
        )
        Recovery(self, "Recovery", instance_id=self.server.instance.instance_id)
        self.idle_stop = self._add_idle_stop()
        self.dns_record = self._add_dns_record()
        self._add_outputs()

    def _add_home_volume(self) -> HomeVolume:
        # The instance goes into the first public subnet; the volume must be in its zone.
        zone = self.network.vpc.public_subnets[0].availability_zone
        return HomeVolume(self, "Home", config=self.config, availability_zone=zone)

    def _add_deployment(self) -> None:
        """The deployment record, its readiness and the association that applies it."""
        instance = self.server.instance.node.default_child
        values = {
            "WORKBENCH_BUNDLE": f"s3://{self.bundle.s3_bucket_name}/{self.bundle.s3_object_key}",
            "WORKBENCH_HOME_VOLUME_ID": self.home.volume.volume_id,
            "WORKBENCH_HOME_DEVICE": self.home.device,
            "WORKBENCH_ADDRESS_ID": self.address.allocation_id,
            "WORKBENCH_PUBLIC_IP": self.address.public_ip,
        }
        current = revision(self, seeds=[instance], values=values)
        self.readiness = Readiness(self, "Readiness", revision=current)
        self.deployment = Deployment(
            self,
            "Deployment",
            name=self.deployment_parameter,
            revision=current,
            values={**values, "WORKBENCH_READY_URL": self.readiness.url},
            instance=self.server.instance,
            reader=self.server.role,
        )
        # The instance goes before the volume and the address on `cdk destroy`: its termination
        # detaches and disassociates them.
        instance.add_resource_dependency(self.home.volume.node.default_child)
        instance.add_resource_dependency(self.address.eip)
        self.readiness.wait_for(instance, self.deployment.association)

    def _add_idle_stop(self) -> IdleStop | None:
        window = idle_window(self.config.idle_stop_minutes)
        if window is None:
            return None
        return IdleStop(
            self, "IdleStop", instance_id=self.server.instance.instance_id, window=window
        )

    def _public_dns(self) -> str:
        """The Elastic IP's public DNS name, as EC2 names it (us-east-1 differs)."""
        dashed = Fn.join("-", Fn.split(".", self.address.public_ip))
        in_us_east_1 = CfnCondition(
            self, "InUsEast1", expression=Fn.condition_equals(self.region, "us-east-1")
        )
        return Fn.condition_if(
            in_us_east_1.logical_id,
            Fn.join("", ["ec2-", dashed, ".compute-1.amazonaws.com"]),
            Fn.join("", ["ec2-", dashed, ".", self.region, ".compute.amazonaws.com"]),
        ).to_string()

    def _add_dns_record(self) -> DnsRecord | None:
        if not self.config.hosted_zone_id:
            return None
        # The Elastic IP: the stack outputs' {ip}.
        return DnsRecord(self, "Dns", config=self.config, address=self.address.public_ip)

    def _add_outputs(self) -> None:
        instance = self.server.instance
        generated_key = self.server.generated_key
        values = {
            "ip": self.address.public_ip,
            "dns": self._public_dns(),
            "instance_id": instance.instance_id,
            "security_group_id": self.network.security_group.security_group_id,
            "region": self.region,
            "key_pair_id": generated_key.key_pair_id if generated_key else None,
            "home_volume_id": self.home.volume.volume_id,
        }
        for spec in output_specs(self.config):
            self._output(spec, values)

    def _output(self, spec: OutputSpec, values: dict[str, str | None]) -> None:
        CfnOutput(self, spec.name, value=spec.render(values), description=spec.description)
