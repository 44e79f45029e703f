"""The baked image, as plain data: names, the SSM parameter it is published to, the Image Builder
component document, and versions derived from content. No CDK here: stacks/image_*.py build the
resources from these, and the workbench stack reads the published parameter's name.

Image Builder refuses to create a component or a recipe whose name and version already exist
("already exists"), and a changed document under an unchanged version is exactly that. So every
version is derived from the content it names (`content_version`): the same content gives the same
version on every machine, and any change gives a new one, which CloudFormation turns into a new
component, a new recipe and a new image.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from workbench.config import (
    IMAGE_STACK_SUFFIX,
    UBUNTU_AMI_PARAMETERS,
    WorkbenchConfig,
)
from workbench.layout import BUNDLE_ZIP, INSTANCE_ROOT
from workbench.render import render_text

COMPONENT_TEMPLATE = "image-component.yaml.j2"
# One provisioning run, the figure the other limits derive from: the install phase, nearly all of
# a first boot's run, takes 10-15 minutes on a t3.medium (apt, .debs, Node, three venvs); twice
# that before a hung download counts as a failure. The image's install step has exactly this
# long; the association's run and the deploy's wait add the instance's way to its bootstrap
# (stacks/readiness.py).
PROVISION_TIMEOUT_SECONDS = 2 * 15 * 60
INSTALL_TIMEOUT_SECONDS = PROVISION_TIMEOUT_SECONDS
# Image Builder's semantic versions: three assignable nodes, each at most 2^30 - 1.
VERSION_NODE_MAX = 2**30 - 1
# The bucket is a deploy-time token (account and region); versions hash the document with this
# stand-in instead, so that they are known at synth and the same for every account.
BUCKET_STANDIN = "<bundle-bucket>"


def image_stack_name(config: WorkbenchConfig) -> str:
    return f"{config.stack_name}{IMAGE_STACK_SUFFIX}"


def resource_name(config: WorkbenchConfig, part: str) -> str:
    """Image Builder names are per account and region: each one carries the image stack's name."""
    return f"{image_stack_name(config)}-{part}"


def published_parameter(config: WorkbenchConfig) -> str:
    """The SSM parameter that holds the newest baked AMI's ID, per workbench and Ubuntu release.
    The image stack's distribution writes it; the workbench stack launches from it."""
    return f"/workbench/{config.stack_name}/image/{config.ubuntu_release}/ami-id"


def parent_image(config: WorkbenchConfig) -> str:
    """Canonical's image for the release, as Image Builder reads an SSM parameter: resolved when
    each image is built, so a rebuild starts from the newest Ubuntu image."""
    return f"ssm:{UBUNTU_AMI_PARAMETERS[config.ubuntu_release]}"


def install_config(config: WorkbenchConfig) -> WorkbenchConfig:
    """The configuration the image's bundle is rendered from: `config` reduced to what the
    install phase depends on. The install phase depends on no configuration
    (workbench/provisioning.py: its pins are `install_pins(release)`), so only the release it
    installs for and the stack name (which names the image) are kept, every optional service on
    (the image installs every step, as services.catalog() describes them). A configure-only
    change (users, https, culling, ports) renders the same bundle, and so keeps the component's
    and the recipe's versions: no rebake for identical content."""
    return WorkbenchConfig(
        stack_name=config.stack_name, ubuntu_release=config.ubuntu_release, penguins_app=True
    )


def provision_phase(config: WorkbenchConfig) -> str | None:
    """The argument the bootstrap gives provision.sh: None runs every phase (stock Ubuntu); on a
    baked image only `configure`, which first completes any install step whose pin differs
    from the image's."""
    return "configure" if config.image == "baked" else None


def content_version(content: str | bytes | Mapping) -> str:
    """A semantic version derived from `content` (text, bytes, or JSON-able data): 1.<m>.<p>,
    56 bits of its sha256 in the two free nodes."""
    if isinstance(content, Mapping):
        content = json.dumps(content, sort_keys=True, separators=(",", ":"))
    if isinstance(content, str):
        content = content.encode()
    digest = hashlib.sha256(content).hexdigest()
    minor, patch = int(digest[:7], 16), int(digest[7:14], 16)
    assert minor <= VERSION_NODE_MAX and patch <= VERSION_NODE_MAX
    return f"1.{minor}.{patch}"


def component_document(*, name: str, bucket: str, key: str) -> str:
    """The AWSTOE document (YAML) of the component that runs the bundle's install phase.
    `bucket` and `key` locate the bundle asset (`key` is its content hash)."""
    return render_text(
        COMPONENT_TEMPLATE,
        name=name,
        bucket=bucket,
        key=key,
        zip=BUNDLE_ZIP,
        root=INSTANCE_ROOT,
        install_timeout=INSTALL_TIMEOUT_SECONDS,
    )


def component_version(*, name: str, key: str) -> str:
    """The component's version: its document's content, bucket aside. The bundle's key is its
    content hash, so a changed rendered file changes the version too."""
    return content_version(component_document(name=name, bucket=BUCKET_STANDIN, key=key))
