"""The component: the install phase of the workbench's own bundle, as an Image Builder component."""

from __future__ import annotations

from aws_cdk import aws_imagebuilder as imagebuilder
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from workbench.config import WorkbenchConfig
from workbench.image import component_document, component_version, resource_name


class InstallComponent(Construct):
    """`provision.sh install` from the bundle asset, the same files the instance runs.

    The version is derived from the document, whose bundle key is the bundle's content hash, and
    the bundle is rendered from `install_config` (workbench/image.py): a changed pin or template
    gives a new version (and so a new recipe and image), a configure-only change of the context
    the same one. The document holds no secret (commands and the bundle's location);
    Image Builder encrypts it at rest with its own key.
    """

    def __init__(
        self, scope: Construct, id_: str, *, config: WorkbenchConfig, bundle: s3_assets.Asset
    ) -> None:
        super().__init__(scope, id_)
        self.name = resource_name(config, "install")
        self.version = component_version(name=self.name, key=bundle.s3_object_key)
        self.component = imagebuilder.CfnComponent(
            self,
            "Component",
            name=self.name,
            platform="Linux",
            version=self.version,
            description="Workbench install phase: packages, .debs, Node, venvs (provision.sh "
            "install)",
            change_description=f"bundle {bundle.s3_object_key}",
            data=component_document(
                name=self.name, bucket=bundle.s3_bucket_name, key=bundle.s3_object_key
            ),
        )
        self.arn = self.component.attr_arn
