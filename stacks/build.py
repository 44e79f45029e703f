"""Build the workbench app: the stacks plus the policy checks that every synth runs."""

from __future__ import annotations

import weakref
from pathlib import Path

from aws_cdk import App, Stage, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.image_stack import ImageStack
from stacks.workbench_stack import WorkbenchStack
from workbench.config import WorkbenchConfig
from workbench.image import image_stack_name

IMAGE_STAGE = "Image"
"""The image stack lives in this stage, a nested cloud assembly. The CDK CLI's default selection
(`cdk deploy`, `diff`, `destroy` without a stack name) takes the top-level stacks only, so those
still mean the workbench alone, as before; `make image` names the stack: `Image/*`."""

_checked: weakref.WeakSet = weakref.WeakSet()


def add_policy_checks(app: App) -> None:
    """cdk-nag's AwsSolutions checks on every stack of `app` (once): synth fails on any
    unacknowledged finding.

    Once per App, not per stack: CDK runs every registered plugin over every stack of the app,
    wherever it was registered (a stack, the image's Stage, the App), so a registration per
    stack reports each finding once per stack."""
    if app not in _checked:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
        _checked.add(app)


def add_workbench(app: App, config: WorkbenchConfig, *, bundle_dir: Path) -> WorkbenchStack:
    """Add the workbench stack to `app`; synth fails on any unacknowledged cdk-nag finding."""
    stack = WorkbenchStack(
        app,
        config.stack_name,
        config=config,
        bundle_dir=bundle_dir,
        description="Data-science workbench: NGINX on port 80 in front of JupyterHub, RStudio "
        "Server, a Shiny app and a model API on one EC2 instance",
        # No CDKMetadata resource: the template is the same on every machine and deploys into
        # an AWS emulator.
        analytics_reporting=False,
    )
    add_policy_checks(app)
    return stack


def add_image(app: App, config: WorkbenchConfig, *, bundle_dir: Path) -> ImageStack:
    """Add the image stack (in its own stage) to `app`, checked like the workbench stack.
    `bundle_dir` is the bundle rendered from `install_config(config)` (workbench/image.py)."""
    stage = Stage(app, IMAGE_STAGE)
    name = image_stack_name(config)
    stack = ImageStack(
        stage,
        name,
        stack_name=name,
        config=config,
        bundle_dir=bundle_dir,
        description="Workbench image: EC2 Image Builder bakes the install phase into an AMI and "
        "publishes its ID to SSM",
        analytics_reporting=False,
    )
    add_policy_checks(app)
    return stack
