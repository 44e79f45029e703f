"""The lifecycle: old workbench images are deleted, AMIs and snapshots, so they never pile up."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_imagebuilder as imagebuilder
from constructs import Construct

from stacks.acknowledge import acknowledge
from stacks.image_recipe import ImageRecipe
from workbench.config import WorkbenchConfig
from workbench.image import resource_name

_Policy = imagebuilder.CfnLifecyclePolicy
# The image the parameter points at and the one before it (to go back to by hand).
KEEP_IMAGES = 2
# Every version of the recipe: each content change is a new version of the same recipe name.
ALL_VERSIONS = "x.x.x"


class ImageLifecycle(Construct):
    """An Image Builder lifecycle policy on every image of the workbench's recipe: beyond the
    newest KEEP_IMAGES, each image is deleted with its AMI (deregistered) and its snapshots.

    Images that CloudFormation replaces are deleted at once by the image's deletion settings
    (stacks/image_build.py, with this role); the policy catches the rest, such as rebuilds run
    with the RebuildCommand output. `role` is Image Builder's to assume for both.
    """

    def __init__(
        self, scope: Construct, id_: str, *, config: WorkbenchConfig, recipe: ImageRecipe
    ) -> None:
        super().__init__(scope, id_)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("imagebuilder.amazonaws.com"),
            description="Image Builder deletes old workbench images (AMIs and snapshots)",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/EC2ImageBuilderLifecycleExecutionPolicy"
                )
            ],
        )
        acknowledge(
            self.role,
            reason="EC2ImageBuilderLifecycleExecutionPolicy is the policy Image Builder documents "
            "for lifecycle actions; it reaches only AMIs and snapshots tagged CreatedBy: EC2 "
            "Image Builder, and AWS keeps it in step with the service.",
            nag=[
                "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:"
                "policy/service-role/EC2ImageBuilderLifecycleExecutionPolicy]"
            ],
        )
        self.policy = _Policy(
            self,
            "Policy",
            name=resource_name(config, "lifecycle"),
            description=f"Keep the newest {KEEP_IMAGES} workbench images; delete older ones "
            "with their AMIs and snapshots",
            execution_role=self.role.role_arn,
            resource_type="AMI_IMAGE",
            status="ENABLED",
            policy_details=[
                _Policy.PolicyDetailProperty(
                    action=_Policy.ActionProperty(
                        type="DELETE",
                        include_resources=_Policy.IncludeResourcesProperty(
                            amis=True, snapshots=True
                        ),
                    ),
                    filter=_Policy.FilterProperty(type="COUNT", value=KEEP_IMAGES),
                )
            ],
            resource_selection=_Policy.ResourceSelectionProperty(
                recipes=[
                    _Policy.RecipeSelectionProperty(name=recipe.name, semantic_version=ALL_VERSIONS)
                ]
            ),
        )
        self.policy.add_resource_dependency(recipe.recipe)
