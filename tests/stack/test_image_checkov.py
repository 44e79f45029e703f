"""checkov on the image stack's template: every finding fixed, or skipped with a reason written
beside the construct (stacks/acknowledge.py puts it in the resource's Metadata, where checkov
reads suppressions in CloudFormation), and no skip without a finding.

One checkov run: the real template plus one planted resource that checkov must fail (a log group
without encryption or acknowledgment), so the run also proves the checks are live.
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


def unreasoned(report: dict) -> list[str]:
    """The findings a reviewer was given no reason for: failed checks, and skips whose comment
    is too thin to judge."""
    results = report["results"]
    found = [
        f"{c['check_id']} on {c['resource']}: {c['check_name']}" for c in results["failed_checks"]
    ]
    for check in results.get("skipped_checks", []):
        comment = check["check_result"].get("suppress_comment", "")
        if len(comment) < MIN_REASON_CHARS:
            found.append(f"{check['check_id']} on {check['resource']}: skipped without a reason")
    return found


@pytest.fixture(scope="module")
def report(image_synthesized, tmp_path_factory) -> dict:
    _, template, _ = image_synthesized
    planted = copy.deepcopy(template)
    planted["Resources"][PLANTED] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"RetentionInDays": 30},
    }
    path = tmp_path_factory.mktemp("checkov") / "image.template.json"
    path.write_text(json.dumps(planted))
    result = subprocess.run(
        [
            str(CHECKOV),
            "--file",
            str(path),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return json.loads(result.stdout)


def test_checkov_reads_the_whole_template(report, image_synthesized):
    _, template, _ = image_synthesized
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] == len(template["Resources"]) + 1
    assert summary["passed"] > 0


def test_every_finding_is_fixed_or_reasoned(report):
    findings = unreasoned(report)
    planted = [f for f in findings if f".{PLANTED}:" in f]
    assert planted, "the planted log group must fail: the checks are live"
    assert [f for f in findings if f not in planted] == []


def test_skips_are_those_written_beside_the_constructs_and_each_is_used(report, image_synthesized):
    _, template, _ = image_synthesized
    written = {
        (f"{resource['Type']}.{name}", skip["id"]): skip["comment"]
        for name, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get(CHECKOV_METADATA, {}).get("skip", [])
    }
    reported = {
        (c["resource"], c["check_id"]): c["check_result"]["suppress_comment"]
        for c in report["results"]["skipped_checks"]
    }
    assert written, "the image stack acknowledges at least one checkov finding"
    # A skip checkov never reports is a skip without a finding: a stale acknowledgment.
    assert reported == written
