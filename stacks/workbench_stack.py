"""The workbench stack: wires the network and the server together and says how to reach them."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.network import WorkbenchNetwork
from stacks.server import WorkbenchServer
from workbench.config import WorkbenchConfig
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
        self.server = WorkbenchServer(
            self,
            "Server",
            config=config,
            vpc=self.network.vpc,
            security_group=self.network.security_group,
            bundle_dir=bundle_dir,
        )
        self._add_outputs()

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
        }
        for spec in output_specs(self.config):
            self._output(spec, values)

    def _output(self, spec: OutputSpec, values: dict[str, str | None]) -> None:
        CfnOutput(self, spec.name, value=spec.render(values), description=spec.description)
