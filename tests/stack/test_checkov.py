"""checkov, the scanner users run on CloudFormation in their pipelines, on both stacks' templates:
every finding fixed, or skipped with a reason written beside the construct (stacks/acknowledge.py
puts it in the resource's Metadata, where checkov reads suppressions in CloudFormation), next to
the cdk-nag acknowledgment of the same choice; and no skip without a finding.

One checkov run (about 5 s) for all of them: the image stack, the workbench stack's default
configuration, port 22 closed, a team with an existing key pair, and HTTPS for a domain with its
Route 53 record; plus one planted resource that checkov must fail (a log group without
encryption or acknowledgment), so the run also proves the checks are live.
"""

from __future__ import annotations

import copy
import json
import subprocess

import pytest

from stacks.acknowledge import CHECKOV_METADATA, MIN_REASON_CHARS
from tests.synth import ROOT

CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"
PLANTED = "PlantedUnencryptedLogGroup"
WORKBENCH_CONTEXTS = ("default", "closed", "existing_key", "https_domain")


def unreasoned(report: dict) -> list[str]:
    """The findings a reviewer was given no reason for: failed checks, and skips whose comment
    is too thin to judge."""
    results = report["results"]
    found = [
        f"{c['file_path'].rsplit('/', 1)[-1]}: {c['check_id']} on {c['resource']}: "
        f"{c['check_name']}"
        for c in results["failed_checks"]
    ]
    for check in results.get("skipped_checks", []):
        comment = check["check_result"].get("suppress_comment", "")
        if len(comment) < MIN_REASON_CHARS:
            found.append(f"{check['check_id']} on {check['resource']}: skipped without a reason")
    return found


@pytest.fixture(scope="module")
def templates(image_synthesized, synthesized) -> dict[str, dict]:
    """File name -> template, as checkov gets them (the image stack's with the planted finding)."""
    _, image, _ = image_synthesized
    planted = copy.deepcopy(image)
    planted["Resources"][PLANTED] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"RetentionInDays": 30},
    }
    return {"image.template.json": planted} | {
        f"workbench-{name}.template.json": synthesized(name)[1] for name in WORKBENCH_CONTEXTS
    }


@pytest.fixture(scope="module")
def report(templates, tmp_path_factory) -> dict:
    directory = tmp_path_factory.mktemp("checkov")
    files = []
    for name, template in templates.items():
        (directory / name).write_text(json.dumps(template))
        files += ["--file", str(directory / name)]
    options = ("--framework", "cloudformation", "--output", "json", "--skip-download")
    result = subprocess.run(
        [str(CHECKOV), *files, *options],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return json.loads(result.stdout)


def test_checkov_reads_every_template_whole(report, templates):
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] == sum(len(t["Resources"]) for t in templates.values())
    assert summary["passed"] > 0


def test_every_finding_is_fixed_or_reasoned(report):
    findings = unreasoned(report)
    planted = [f for f in findings if f".{PLANTED}:" in f]
    assert planted, "the planted log group must fail: the checks are live"
    assert [f for f in findings if f not in planted] == []


def test_skips_are_those_written_beside_the_constructs_and_each_is_used(report, templates):
    written = {
        (name, f"{resource['Type']}.{logical_id}", skip["id"]): skip["comment"]
        for name, template in templates.items()
        for logical_id, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get(CHECKOV_METADATA, {}).get("skip", [])
    }
    reported = {
        (c["file_path"].rsplit("/", 1)[-1], c["resource"], c["check_id"]): c["check_result"][
            "suppress_comment"
        ]
        for c in report["results"]["skipped_checks"]
    }
    assert {check for _, _, check in written} >= {"CKV_AWS_88", "CKV_AWS_149", "CKV_AWS_260"}
    # A skip checkov never reports is a skip without a finding: a stale acknowledgment.
    assert reported == written


def test_port_22_is_acknowledged_only_while_open_to_the_world(templates):
    def skips(name: str) -> set[str]:
        group = templates[name]["Resources"]["WorkbenchSecurityGroup"]
        return {s["id"] for s in group.get("Metadata", {}).get(CHECKOV_METADATA, {})["skip"]}

    assert "CKV_AWS_24" in skips("workbench-default.template.json")
    assert "CKV_AWS_24" not in skips("workbench-closed.template.json")
