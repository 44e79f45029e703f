"""The real CDK CLI (npm aws-cdk, pinned, on the project's Node): bad context is one clear line,
good context synthesizes with no credentials, no network, and no warning on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.synth import ROOT
from workbench.toolchain import NODE_BIN, tool_env

CDK = ROOT / "node_modules" / ".bin" / "cdk"


def cdk(*args: str, cwd: Path = ROOT, outdir: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "CDK_OUTDIR"}
    # The venv's python3 for cdk.json's app; the project's Node for the CLI and jsii.
    env = tool_env(env)
    env.update(
        CDK_DISABLE_CLI_TELEMETRY="true",
        # No credentials anywhere: synth must not need them.
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
    )
    extra = ["--output", str(outdir)] if outdir else []
    return subprocess.run(
        [str(CDK), *args, "--no-notices", *extra],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_mistyped_key_stops_synth_with_one_line_and_no_traceback(tmp_path):
    # The key check and the value parsers print through the same path (see the last test).
    result = cdk("synth", "-c", "ssh_cird=203.0.113.4/32", outdir=tmp_path)
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert ours == ["error: unknown context key ssh_cird; did you mean ssh_cidr?"]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "Workbench.template.json").exists(), "nothing half-synthesized"


def without_construct_paths(template: dict) -> dict:
    """The template less the `aws:cdk:path` Metadata entries, which the CLI asks app.py to write
    (context aws:cdk:enable-path-metadata) and a synth in tests/synth.py does not."""
    for resource in template.get("Resources", {}).values():
        metadata = resource.get("Metadata", {})
        metadata.pop("aws:cdk:path", None)
        if "Metadata" in resource and not metadata:
            del resource["Metadata"]
    return template


def test_synth_works_offline_without_credentials_and_says_nothing_else(
    tmp_path, cloud_assembly, image_synthesized
):
    # The "restricted" context of tests/conftest.py's CONTEXTS, so the session's synth of it is
    # compared below.
    result = cdk("synth", "--quiet", "-c", "ssh_cidr=203.0.113.4/32", outdir=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "Workbench.template.json").read_text()
    template = json.loads(text)
    group = template["Resources"]["WorkbenchSecurityGroup"]["Properties"]
    assert {r["CidrIp"] for r in group["SecurityGroupIngress"]} == {"0.0.0.0/0", "203.0.113.4/32"}
    # Nothing silenced: jsii's end-of-life banner (a block of `!!` lines naming the Node release)
    # would show on Node 20; the CLI's notice when cdk.json leaves a feature flag unset.
    assert "end-of-life" not in result.stderr.lower() and "!!!!" not in result.stderr
    assert "feature flags are not configured" not in result.stderr
    # Deterministic: app.py, run by the CLI in its own process and directory, writes the same
    # bytes as the session's in-process synth of the same context (no timestamps, paths or random
    # values in the templates), but for the construct paths the CLI asks for. Those removed, the
    # template is written again as CDK writes it (JSON, indent 1); that this reproduces CDK's bytes
    # exactly is checked on the session's own file first, so the comparison is of bytes.
    session = (cloud_assembly("restricted") / "Workbench.template.json").read_text()
    assert json.dumps(json.loads(session), indent=1, ensure_ascii=False) == session
    assert "aws:cdk:path" in text, "the CLI's construct paths, which are removed"
    stripped = json.dumps(without_construct_paths(template), indent=1, ensure_ascii=False)
    assert stripped == session
    # The image stack, synthesized beside it in its stage's nested assembly (ssh_cidr is the
    # workbench's: the image's build network takes no ingress).
    (image,) = tmp_path.glob("assembly-*/*.template.json")
    assert without_construct_paths(json.loads(image.read_text())) == image_synthesized[1]


def machine_env() -> dict[str, str]:
    """This environment as a shell on the machine has it: no project Node on PATH, no JSII_NODE."""
    env = {k: v for k, v in os.environ.items() if k != "JSII_NODE"}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != NODE_BIN)
    return env


def test_python_app_py_reads_cdk_json_and_fails_cleanly(tmp_path):
    # From the machine's environment: app.py itself puts jsii on the project's Node (the
    # machine's Node 20 would print jsii's end-of-life banner on stderr first).
    env = {
        **machine_env(),
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({"root_volume_gb": "tiny"}),
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: root_volume_gb: got 'tiny'; expected a whole number of GiB from 8 to 16384"
    )
