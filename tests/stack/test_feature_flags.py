"""Every feature flag of the pinned aws-cdk-lib is set in cdk.json, so a CDK upgrade never changes
behaviour silently and synth prints no "N feature flags are not configured" notice (the CLI reads
that from the cloud assembly's feature-flag report, as these tests do).

scripts/feature-flags.py chooses the values (the recommended one unless it changes a template);
the README's "Feature flags" table says why each exception stays.
"""

from __future__ import annotations

import json
import re

from tests.synth import DEFAULT_CONTEXT, ROOT


def flag_report(assembly) -> dict[str, dict]:
    manifest = json.loads((assembly / "manifest.json").read_text())
    reports = [a for a in manifest["artifacts"].values() if a["type"] == "cdk:feature-flag-report"]
    assert reports, "the cloud assembly has a feature-flag report"
    return {
        flag: facts for report in reports for flag, facts in report["properties"]["flags"].items()
    }


def test_every_flag_of_the_pinned_cdk_is_configured(cloud_assembly):
    flags = flag_report(cloud_assembly("default"))
    unconfigured = sorted(flag for flag, facts in flags.items() if "userValue" not in facts)
    assert unconfigured == [], (
        f"cdk.json leaves {len(unconfigured)} feature flags unset: run "
        "`make feature-flags` (scripts/feature-flags.py --write) and commit cdk.json"
    )


def test_cdk_json_sets_only_flags_the_pinned_cdk_knows(cloud_assembly):
    # A misspelled flag would be ignored (every `@` key passes the context key check).
    flags = flag_report(cloud_assembly("default"))
    strangers = sorted(k for k in DEFAULT_CONTEXT if k.startswith("@") and k not in flags)
    assert strangers == []


def test_the_readme_explains_every_flag_set_against_the_recommendation(cloud_assembly):
    flags = flag_report(cloud_assembly("default"))
    differing = {
        f for f, facts in flags.items() if facts.get("userValue") != facts["recommendedValue"]
    }
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Feature flags", 1)[1].split("\n## ", 1)[0]
    explained = set(re.findall(r"^\| `(@[^`]+)` \|", section, flags=re.MULTILINE))
    assert explained == differing
    # No Lambda-backed custom resource in the VPC: moto cannot run one.
    assert flags["@aws-cdk/aws-ec2:restrictDefaultSecurityGroup"]["userValue"] is False
