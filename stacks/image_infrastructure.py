"""The build infrastructure: the instance Image Builder builds on, and its minimal role."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_imagebuilder as imagebuilder
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.acknowledge import acknowledge, managed_policy_finding
from stacks.image_network import BuildNetwork
from stacks.instance_role import bundle_instance_role
from workbench.config import WorkbenchConfig
from workbench.image import resource_name

_Infrastructure = imagebuilder.CfnInfrastructureConfiguration
IMAGE_BUILDER_POLICY = "EC2InstanceProfileForImageBuilder"


class BuildInfrastructure(Construct):
    """The build instance: the workbench's instance type (the install phase runs where it will
    be used), in the build network, IMDSv2 only, terminated when a build fails.

    Its role holds what Image Builder documents as the instance profile's needs
    (AmazonSSMManagedInstanceCore: the Systems Manager agent through which Image Builder runs the
    build; EC2InstanceProfileForImageBuilder: AWSTOE's download, the component's document, its
    logs) and read access to the bundle asset. Nothing else: no secret, no write anywhere.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: WorkbenchConfig,
        network: BuildNetwork,
        bundle: s3_assets.Asset,
    ) -> None:
        super().__init__(scope, id_)
        self.role = bundle_instance_role(
            self,
            description="Workbench image build instance: Image Builder's agent, read the bundle",
            bundle=bundle,
            agent_use="the Systems Manager agent, through which Image Builder runs every build "
            "step on the instance",
            reader="the build instance",
            managed_policies=[IMAGE_BUILDER_POLICY],
        )
        acknowledge(
            self.role,
            reason=f"{IMAGE_BUILDER_POLICY} is what Image Builder documents for a "
            "build instance: AWSTOE's download, GetComponent, the build's log streams; AWS "
            "keeps it in step with the agent, which a hand-written copy would not be.",
            nag=[managed_policy_finding(IMAGE_BUILDER_POLICY)],
        )
        self.profile = iam.CfnInstanceProfile(self, "Profile", roles=[self.role.role_name])
        self.configuration = _Infrastructure(
            self,
            "Configuration",
            name=resource_name(config, "build"),
            description="Where the workbench image is built",
            instance_profile_name=self.profile.ref,
            instance_types=[config.instance_type],
            subnet_id=network.subnet.subnet_id,
            security_group_ids=[network.security_group.security_group_id],
            # A failed build's instance would otherwise keep running (and billing) for
            # inspection; set False by hand to debug one.
            terminate_instance_on_failure=True,
            instance_metadata_options=_Infrastructure.InstanceMetadataOptionsProperty(
                http_tokens="required", http_put_response_hop_limit=1
            ),
        )
        self.arn = self.configuration.attr_arn
