"""The image: built while the stack deploys, its logs kept for a month."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_imagebuilder as imagebuilder
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.acknowledge import acknowledge
from stacks.image_distribution import ImageDistribution
from stacks.image_infrastructure import BuildInfrastructure
from stacks.image_recipe import ImageRecipe

_Image = imagebuilder.CfnImage
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class BakedImage(Construct):
    """An `AWS::ImageBuilder::Image`: CloudFormation creates it by running the whole build (build
    instance, component, snapshot, distribution), so `make image` returns once the AMI exists and
    its ID is published. A new recipe version replaces it: a new build, then the old image's
    deletion, which `deletion_role` extends to its AMI and snapshots.

    No test stage: the workbench's own deploy is the test (configure, then every public path
    through NGINX), and a test instance would add its launch to every bake.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        recipe: ImageRecipe,
        infrastructure: BuildInfrastructure,
        distribution: ImageDistribution,
        deletion_role: iam.IRole,
    ) -> None:
        super().__init__(scope, id_)
        # Named after the recipe, as Image Builder names an image's log group by default; made
        # here so that it has a retention and goes with the stack.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/imagebuilder/{recipe.name}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.log_group,
            reason="Build logs (package installs, no secret) are encrypted at rest by CloudWatch "
            "Logs; a customer managed key would add a monthly charge and a key policy to guard "
            "nothing sensitive.",
            checkov=["CKV_AWS_158"],
        )
        self.image = _Image(
            self,
            "Image",
            image_recipe_arn=recipe.arn,
            infrastructure_configuration_arn=infrastructure.arn,
            distribution_configuration_arn=distribution.arn,
            image_tests_configuration=_Image.ImageTestsConfigurationProperty(
                image_tests_enabled=False
            ),
            enhanced_image_metadata_enabled=True,
            logging_configuration=_Image.ImageLoggingConfigurationProperty(
                log_group_name=self.log_group.log_group_name
            ),
            deletion_settings=_Image.DeletionSettingsProperty(
                execution_role=deletion_role.role_arn
            ),
        )
        self.image.node.add_dependency(self.log_group)
        self.image_id = self.image.attr_image_id
        self.arn = self.image.attr_arn
