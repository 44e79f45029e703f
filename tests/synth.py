"""Synthesize the workbench exactly as app.py does, for tests (no CLI, no network)."""

from __future__ import annotations

import os
from pathlib import Path

# Before aws_cdk loads: jsii prints a large end-of-life banner for Node 20 otherwise.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App

from stacks.build import add_workbench
from workbench.config import WorkbenchConfig, cdk_json_context, load_config
from workbench.render import render_bundle

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
