"""The workbench stack: wires the network, the server, users' /home volume, deploy readiness and
the idle stop together and says how to reach them."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.idle import IdleStop
from stacks.network import WorkbenchNetwork
from stacks.readiness import Readiness
from stacks.server import WorkbenchServer
from stacks.storage import HomeVolume
from workbench.config import WorkbenchConfig
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
        # The asset is exactly the directory render_bundle wrote; its hash names the readiness
        # resources, so that a deploy that changes the bundle waits for it to be applied.
        self.bundle = s3_assets.Asset(self, "Bundle", path=str(bundle_dir))
        self.readiness = Readiness(self, "Readiness", revision=self.bundle.asset_hash)
        self.server = WorkbenchServer(
            self,
            "Server",
            config=config,
            vpc=self.network.vpc,
            security_group=self.network.security_group,
            bundle=self.bundle,
            home_volume_id=self.home.volume.volume_id,
            home_device=self.home.device,
            ready_url=self.readiness.url,
        )
        attachment = self.home.attach_to(self.server.instance)
        # provision.sh mounts /home before it creates the user: the deploy waits for it only
        # once the volume is attached.
        self.readiness.wait_for(self.server.instance.node.default_child, attachment)
        self.idle_stop = self._add_idle_stop()
        self._add_outputs()

    def _add_home_volume(self) -> HomeVolume:
        # The instance goes into the first public subnet; the volume must be in its zone.
        zone = self.network.vpc.public_subnets[0].availability_zone
        return HomeVolume(self, "Home", config=self.config, availability_zone=zone)

    def _add_idle_stop(self) -> IdleStop | None:
        window = idle_window(self.config.idle_stop_minutes)
        if window is None:
            return None
        return IdleStop(
            self, "IdleStop", instance_id=self.server.instance.instance_id, window=window
        )

    def _add_outputs(self) -> None:
        instance = self.server.instance
        generated_key = self.server.generated_key
        values = {
            "ip": instance.instance_public_ip,
            "dns": instance.instance_public_dns_name,
            "instance_id": instance.instance_id,
            "security_group_id": self.network.security_group.security_group_id,
            "region": self.region,
            "secret_arn": self.server.password.secret_arn,
            "key_pair_id": generated_key.key_pair_id if generated_key else None,
            "home_volume_id": self.home.volume.volume_id,
        }
        for spec in output_specs(self.config):
            self._output(spec, values)

    def _output(self, spec: OutputSpec, values: dict[str, str | None]) -> None:
        CfnOutput(self, spec.name, value=spec.render(values), description=spec.description)
