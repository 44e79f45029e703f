"""The project's own Node.js: npm's `node` package, pinned exactly in package.json.

`npm ci` puts it at node_modules/.bin/node. The CDK CLI, jsii (the Node process behind
aws-cdk-lib's Python API) and configurable-http-proxy run on it, never on the machine's Node: jsii
stopped supporting Node 20 on 2026-10-30 (a banner on every synth) and the CLI's AWS SDK needs
Node 22 from January 2027, while many machines still have 20. The machine needs only npm.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NODE_BIN = REPO / "node_modules" / ".bin"
NODE = NODE_BIN / "node"
PYTHON_BIN = Path(sys.executable).parent
"""This interpreter's directory (the venv's bin): cdk.json's `python3 app.py` must find it."""


def tool_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's) for a CDK CLI, a CDK app or configurable-http-proxy.

    This venv's Python, then the project's Node, first on PATH (`#!/usr/bin/env node` scripts:
    the CLI, configurable-http-proxy); JSII_NODE names the project's Node for jsii. Without
    `make setup` (no node_modules) the machine's Node stays in charge.
    """
    result = dict(os.environ if env is None else env)
    head = [str(PYTHON_BIN), str(NODE_BIN)]
    rest = [p for p in result.get("PATH", os.defpath).split(os.pathsep) if p not in head]
    result["PATH"] = os.pathsep.join(head + rest)
    if NODE.exists():
        result["JSII_NODE"] = str(NODE)
    return result


def use_project_node() -> None:
    """This process's jsii kernel, and every child it starts, run on the project's Node.

    Call it before the first `import aws_cdk`: jsii starts its Node process on that import.
    """
    os.environ.update(tool_env())
