"""Synthesize the workbench exactly as app.py does, for tests (no CLI, no network)."""

from __future__ import annotations

from pathlib import Path

from workbench.toolchain import use_project_node

# Before aws_cdk loads (jsii starts its Node then): the project's Node, as app.py does, so tests
# run by pytest directly never depend on the machine's Node either.
use_project_node()

from aws_cdk import App  # noqa: E402

from stacks.build import add_image, add_workbench  # noqa: E402
from workbench.config import WorkbenchConfig, cdk_json_context, load_config  # noqa: E402
from workbench.image import install_config  # noqa: E402
from workbench.render import render_bundle  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONTEXT: dict = cdk_json_context()


def synth(workdir: Path, **overrides: object) -> tuple[WorkbenchConfig, dict]:
    """Return the config and the synthesized template for cdk.json's context plus overrides."""
    context = {**DEFAULT_CONTEXT, **overrides}
    app = App(outdir=str(workdir / "cdk.out"), context=context)
    config = load_config(app.node.try_get_context)
    stack = add_workbench(app, config, bundle_dir=render_bundle(config, workdir / "bundle"))
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    return config, template


def synth_image(workdir: Path, **overrides: object) -> tuple[WorkbenchConfig, dict, Path]:
    """The image stack alone, as app.py builds it: (config, template, bundle directory)."""
    context = {**DEFAULT_CONTEXT, **overrides}
    app = App(outdir=str(workdir / "cdk.out"), context=context)
    config = load_config(app.node.try_get_context)
    bundle = render_bundle(install_config(config), workdir / "bundle")
    stack = add_image(app, config, bundle_dir=bundle)
    stage = app.synth().get_nested_assembly(f"assembly-{stack.node.scope.node.id}")
    return config, stage.get_stack_by_name(stack.stack_name).template, bundle
