#!/usr/bin/env python3
"""Set every feature flag of the pinned aws-cdk-lib in cdk.json, each to the value that keeps the
template as designed. Run it after every aws-cdk-lib upgrade, then commit cdk.json and the
README's "Feature flags" list.

    .venv/bin/python scripts/feature-flags.py           # report; exit 1 if cdk.json would change
    .venv/bin/python scripts/feature-flags.py --write   # ... and write cdk.json

The flags and their recommended values come from the cloud assembly's feature-flag report (the
`cdk:feature-flag-report` artifact in manifest.json, which the CLI's "N feature flags are not
configured" notice reads). For each flag whose value today (cdk.json's, else the unconfigured
default) is not the recommended one, every configuration of tests/conftest.py's CONTEXTS is
synthesized with that one flag at its recommended value: where no template changes, the flag
takes the recommended value; where one changes, it keeps today's value, and the report says what
changed (a flag that adds a Lambda-backed custom resource always changes the template: moto
cannot run those). Last, the chosen set is synthesized by app.py itself, CloudFormation
validation on, and every template must equal today's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.sgrules import stack_name_of  # noqa: E402
from workbench.toolchain import tool_env, use_project_node  # noqa: E402

CDK_JSON = ROOT / "cdk.json"
# What the CDK CLI adds to every synth's context (its defaults), so templates are compared as
# `cdk synth` and `cdk deploy` produce them.
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
}
REPORT = "cdk:feature-flag-report"
# Resource types that mean a Lambda function the emulator cannot run.
LAMBDA_BACKED = ("AWS::Lambda::", "Custom::", "AWS::CloudFormation::CustomResource")
# Decided by design, whatever today's template shows: value and why.
BY_DESIGN = {
    "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": (
        False,
        "adds a Lambda-backed custom resource to every VPC that does not opt out, which moto "
        "cannot run (stacks/network.py opts out too, so today's template shows no change)",
    ),
}


def flag_report(assembly: Path) -> dict[str, dict]:
    """The feature-flag report of a synthesized cloud assembly: flag -> its facts."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    flags: dict[str, dict] = {}
    for artifact in manifest["artifacts"].values():
        if artifact["type"] == REPORT:
            flags.update(artifact["properties"]["flags"])
    return flags


def unconfigured(facts: Mapping[str, Any]) -> Any:
    # How the CLI reads it: the field's name is a historical accident (cloud-assembly-schema).
    return (facts.get("unconfiguredBehavesLike") or {}).get("v2", False)


def changes(old: dict, new: dict) -> str:
    """What differs between two templates, in a few words."""
    said = []
    old_res, new_res = old.get("Resources", {}), new.get("Resources", {})
    for name in sorted(new_res.keys() - old_res.keys()):
        said.append(f"adds {name} ({new_res[name]['Type']})")
    for name in sorted(old_res.keys() - new_res.keys()):
        said.append(f"removes {name} ({old_res[name]['Type']})")
    for name in sorted(old_res.keys() & new_res.keys()):
        if old_res[name] != new_res[name]:
            keys = sorted(
                k
                for k in old_res[name].keys() | new_res[name].keys()
                if old_res[name].get(k) != new_res[name].get(k)
            )
            said.append(f"changes {name} ({old_res[name]['Type']}: {', '.join(keys)})")
    for section in sorted((old.keys() | new.keys()) - {"Resources"}):
        if old.get(section) != new.get(section):
            said.append(f"changes {section}")
    return "; ".join(said)


def merged(templates: Mapping[str, dict]) -> dict:
    """Both stacks' templates as one (stack name -> template): resources and sections named
    `<stack>/<id>`, so a comparison and `changes` see the image stack's too."""
    one: dict[str, Any] = {"Resources": {}}
    for stack, template in sorted(templates.items()):
        for section, value in template.items():
            if section == "Resources":
                one["Resources"].update({f"{stack}/{k}": v for k, v in value.items()})
            else:
                one[f"{stack}/{section}"] = value
    return one


class InProcess:
    """Synthesize in this process (jsii started once; about 0.2 s a synth without validation)."""

    def __init__(self, workdir: Path, base: Mapping[str, Any]) -> None:
        from tests.conftest import CONTEXTS

        self.workdir, self.base, self.contexts, self.count = workdir, dict(base), CONTEXTS, 0

    def synth(self, name: str, flags: Mapping[str, Any]) -> tuple[dict, Path]:
        from aws_cdk import App

        from stacks.build import add_image, add_workbench
        from workbench.config import load_config
        from workbench.render import render_bundle

        self.count += 1
        out = self.workdir / f"synth-{self.count}"
        context = {**self.base, **CLI_CONTEXT, **self.contexts[name], **flags}
        app = App(outdir=str(out / "cdk.out"), context=context)
        config = load_config(app.node.try_get_context)
        bundle = render_bundle(config, out / "bundle")
        stack = add_workbench(app, config, bundle_dir=bundle)
        image = add_image(app, config, bundle_dir=bundle)  # as app.py: both stacks
        assembly = app.synth()
        stage = assembly.get_nested_assembly(f"assembly-{image.node.scope.node.id}")
        templates = {
            stack.stack_name: assembly.get_stack_by_name(stack.stack_name).template,
            image.stack_name: stage.get_stack_by_name(image.stack_name).template,
        }
        return merged(templates), out / "cdk.out"


def by_app_py(workdir: Path, context: Mapping[str, Any], name: str) -> dict:
    """One configuration synthesized by app.py as the CLI runs it (CloudFormation validation on)."""
    out = workdir / f"app-{name}"
    env = tool_env({k: v for k, v in os.environ.items() if not k.startswith("CDK_")})
    env.update(CDK_OUTDIR=str(out), CDK_CONTEXT_JSON=json.dumps(context))
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"error: app.py failed for {name}: {result.stderr.strip()[-2000:]}")
    # The image stack's template sits in its stage's nested assembly.
    return merged(
        {stack_name_of(path): json.loads(path.read_text()) for path in out.rglob("*.template.json")}
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the chosen values to cdk.json")
    args = parser.parse_args(argv)

    # Before aws_cdk loads: the project's Node; validation off for the many screening synths
    # (it never changes a template; the final check runs it).
    use_project_node()
    os.environ["CDK_VALIDATION"] = "false"
    cdk_json = json.loads(CDK_JSON.read_text())
    settings = {k: v for k, v in cdk_json["context"].items() if not k.startswith("@")}
    today = {k: v for k, v in cdk_json["context"].items() if k.startswith("@")}

    with tempfile.TemporaryDirectory(prefix="workbench-flags-") as tmp:
        synth = InProcess(Path(tmp), settings)
        baseline: dict[str, dict] = {}
        for name in synth.contexts:
            baseline[name], assembly = synth.synth(name, today)
        report = flag_report(assembly)
        strangers = sorted(today.keys() - report.keys())
        if strangers:
            print(
                f"error: cdk.json sets {', '.join(strangers)}: not a flag of this aws-cdk-lib "
                "(a typo, or a flag it dropped: remove it)",
                file=sys.stderr,
            )
            return 2

        chosen: dict[str, Any] = {}
        kept: dict[str, str] = {}
        for flag in sorted(report):
            facts = report[flag]
            recommended = facts["recommendedValue"]
            current = today.get(flag, unconfigured(facts))
            if flag in BY_DESIGN:
                chosen[flag], why = BY_DESIGN[flag]
                if chosen[flag] != recommended:
                    kept[flag] = f"by design: {why}"
                continue
            if current == recommended:
                chosen[flag] = recommended
                continue
            trial = {**today, flag: recommended}
            for name in synth.contexts:
                template, _ = synth.synth(name, trial)
                if template != baseline[name]:
                    added = [
                        r["Type"]
                        for logical_id, r in template.get("Resources", {}).items()
                        if r["Type"].startswith(LAMBDA_BACKED)
                        and logical_id not in baseline[name].get("Resources", {})
                    ]
                    why = changes(baseline[name], template)
                    if added:
                        why = f"adds a Lambda-backed resource moto cannot run: {why}"
                    kept[flag] = f"{why} (configuration {name!r})"
                    break
            chosen[flag] = current if flag in kept else recommended
        print(f"{len(report)} flags, {synth.count} in-process synths", file=sys.stderr)

        # The chosen set, as app.py synthesizes it with validation on: nothing may change.
        for name, overrides in synth.contexts.items():
            context = {**settings, **CLI_CONTEXT, **overrides, **chosen}
            template = by_app_py(Path(tmp), context, name)
            if template != baseline[name]:
                print(
                    f"error: the chosen flags together change the {name} template "
                    f"({changes(baseline[name], template)}): flags interact; look at them by hand",
                    file=sys.stderr,
                )
                return 2

    for flag, why in kept.items():
        print(
            f"{flag} = {json.dumps(chosen[flag])} (recommended "
            f"{json.dumps(report[flag]['recommendedValue'])}): {why}"
        )
    new_context = {**settings, **dict(sorted(chosen.items()))}
    if new_context == cdk_json["context"]:
        print("cdk.json sets every flag already, as above", file=sys.stderr)
        return 0
    if not args.write:
        print("cdk.json would change: run with --write", file=sys.stderr)
        return 1
    CDK_JSON.write_text(json.dumps({**cdk_json, "context": new_context}, indent=2) + "\n")
    print(f"wrote {CDK_JSON.name}: {len(chosen)} flags", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
