"""The project's own Node (npm's `node` package) runs the CDK CLI, jsii and configurable-http-proxy.

jsii refuses Node 20 (end of life for it since 2026-10-30) and the CLI's AWS SDK needs Node 22 from
January 2027; the machine's Node must not matter. tests/stack/test_cli.py shows the real CLI's
synth without jsii's banner, and `python app.py` choosing this Node from the machine's environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.synth import ROOT
from workbench.toolchain import NODE, NODE_BIN, PYTHON_BIN, tool_env

PACKAGE = json.loads((ROOT / "package.json").read_text())
LOCK = json.loads((ROOT / "package-lock.json").read_text())


def version_of(node: str | Path) -> str:
    return subprocess.run([str(node), "--version"], capture_output=True, text=True).stdout.strip()


def test_node_is_pinned_exactly_to_a_supported_lts_release():
    pin = PACKAGE["devDependencies"]["node"]
    assert pin.count(".") == 2 and pin.replace(".", "").isdigit(), f"exact pin: {pin}"
    assert int(pin.split(".")[0]) >= 24, "an LTS line jsii and the CLI's AWS SDK support"
    assert LOCK["packages"]["node_modules/node"]["version"] == pin
    # npm 12 runs no install script unless allowed: the `node` package fetches its binary in one.
    assert PACKAGE["allowScripts"] == {"node": True}


def test_npm_ci_installed_that_node():
    assert version_of(NODE) == "v" + PACKAGE["devDependencies"]["node"]


def test_tool_env_puts_this_python_then_the_project_node_first():
    env = tool_env({"PATH": f"/usr/bin{os.pathsep}{NODE_BIN}"})
    assert env["PATH"].split(os.pathsep) == [str(PYTHON_BIN), str(NODE_BIN), "/usr/bin"]
    assert env["JSII_NODE"] == str(NODE)
    # `#!/usr/bin/env node` (the CDK CLI, configurable-http-proxy) finds the project's Node.
    assert Path(shutil.which("node", path=env["PATH"])) == NODE


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_jsii_of_this_test_process_runs_on_the_project_node():
    import aws_cdk  # noqa: F401  (tests/synth.py chose the Node before this first import)

    kernels = [
        pid
        for pid in _children(os.getpid())
        if b"jsii-runtime" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert kernels, "jsii's Node process is a child of this process"
    for pid in kernels:
        assert version_of(os.readlink(f"/proc/{pid}/exe")) == version_of(NODE)
        assert version_of(NODE).startswith("v24.")


def test_nothing_silences_the_end_of_life_banner():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    needle = "JSII_SILENCE_WARNING" + "_END_OF_LIFE_NODE_VERSION"
    offenders = [
        name
        for name in tracked
        if (ROOT / name).is_file() and needle in (ROOT / name).read_text(errors="ignore")
    ]
    assert offenders == []
