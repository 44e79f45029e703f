"""cdk-nag (AwsSolutions) and CloudFormation's own validation run on every synth.

Compliance: the workbench synthesizes with every finding fixed or acknowledged with a reason.
Non-compliance: the same app with a known-bad resource added fails synth, so the checks are live.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from aws_cdk import App, Size
from aws_cdk import aws_ec2 as ec2

from stacks.build import add_workbench
from tests.synth import DEFAULT_CONTEXT, ROOT
from workbench.config import load_config
from workbench.render import render_bundle


def test_workbench_has_no_unacknowledged_findings(synthesized):
    # The fixture's synth would raise on any unacknowledged cdk-nag or validation finding.
    _, template = synthesized("default")
    assert "WorkbenchInstance" in template["Resources"]


def test_a_new_unencrypted_volume_fails_synth(tmp_path):
    app = App(outdir=str(tmp_path / "cdk.out"), context=DEFAULT_CONTEXT)
    config = load_config(app.node.try_get_context)
    stack = add_workbench(app, config, bundle_dir=render_bundle(config, tmp_path / "bundle"))
    ec2.Volume(stack, "Unencrypted", availability_zone="us-east-1a", size=Size.gibibytes(1))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "cdk.out" / "validation-report.json").read_text()
    assert "AwsSolutions-EC26" in report


def test_every_acknowledgment_goes_through_acknowledge():
    # stacks/acknowledge.py refuses a reason too thin to judge at synth (tests/stack/
    # test_acknowledge.py), and writes cdk-nag's and checkov's from one call; an Acknowledgment
    # built anywhere else would bypass both.
    for path in (ROOT / "stacks").glob("*.py"):
        if path.name != "acknowledge.py":
            source = path.read_text()
            assert "Acknowledgment(" not in source and ".acknowledge(" not in source, path.name


def test_cfn_lint_reports_no_errors(tmp_path, synthesized):
    _, template = synthesized("default")
    path = tmp_path / "Workbench.template.json"
    path.write_text(json.dumps(template))
    result = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert errors == [], result.stdout
