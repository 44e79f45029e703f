"""Build the workbench app: the stack plus the policy checks that every synth runs."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.workbench_stack import WorkbenchStack
from workbench.config import WorkbenchConfig


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
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack
