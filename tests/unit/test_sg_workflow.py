"""The pull-request workflow that runs sg-diff: linted by actionlint, and read as policy."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.synth import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "security-groups.yml"
ACTIONLINT = Path(sys.executable).parent / "actionlint"


def load() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps() -> list[dict]:
    (job,) = load()["jobs"].values()
    return job["steps"]


def test_actionlint_with_shellcheck_finds_nothing():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: `make system` installs it (Debian package)"
    assert ACTIONLINT.exists(), "actionlint is missing: `make setup` installs requirements-dev.txt"
    result = subprocess.run(
        [str(ACTIONLINT), "-no-color", "-shellcheck", shellcheck, str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    # The check above is live: a reference to a step that does not exist fails it.
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("steps.diff.outputs", "steps.dif.outputs"))
    result = subprocess.run(
        [str(ACTIONLINT), "-no-color", "-shellcheck=", str(broken)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert 'property "dif" is not defined' in result.stdout


def test_it_runs_on_pull_requests_and_when_labels_change():
    # PyYAML reads the bare key `on` as True.
    trigger = load()[True]
    assert set(trigger) == {"pull_request"}
    assert {"opened", "synchronize", "labeled", "unlabeled"} <= set(
        trigger["pull_request"]["types"]
    )


def test_permissions_are_minimal():
    assert load()["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_every_action_is_pinned_at_least_to_a_major_version():
    uses = [step["uses"] for step in steps() if "uses" in step]
    assert uses, "the workflow uses actions"
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", action), action


def test_it_sets_up_python_and_node_with_caches_then_the_project():
    by_action = {step["uses"].split("@")[0]: step for step in steps() if "uses" in step}
    assert by_action["actions/setup-python"]["with"]["cache"] == "pip"
    assert by_action["actions/setup-node"]["with"]["cache"] == "npm"
    assert by_action["actions/checkout"]["with"]["fetch-depth"] == 0, "merge base needs history"
    assert any(step.get("run", "").strip() == "make setup" for step in steps())
    # npm comes from setup-node; the CLI and jsii run on the project's Node (package.json).
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["node"]
    assert by_action["actions/setup-node"]["with"]["node-version"] == pinned.split(".")[0]


def test_it_diffs_the_merge_base_against_head_into_the_job_summary():
    (diff_step,) = [step for step in steps() if step.get("id") == "diff"]
    script = diff_step["run"]
    assert 'git merge-base "$BASE_SHA" HEAD' in script
    assert "python -m workbench sg-diff" in script
    assert '>>"$GITHUB_STEP_SUMMARY"' in script


def test_the_comment_is_found_by_its_marker_and_updated_in_place():
    marker = load()["env"]["COMMENT_MARKER"]
    assert marker.startswith("<!--") and marker.endswith("-->"), "hidden in rendered Markdown"
    (comment,) = [s for s in steps() if s.get("uses", "").startswith("actions/github-script@")]
    script = comment["with"]["script"]
    assert "process.env.COMMENT_MARKER" in script
    assert "updateComment" in script and "createComment" in script


def test_widening_fails_the_check_unless_the_pr_is_labelled_reviewed():
    assert load()["env"]["REVIEWED_LABEL"] == "security-reviewed"
    (gate,) = [s for s in steps() if s.get("name") == "Fail on unacknowledged widening"]
    condition = " ".join(gate["if"].split())
    assert condition == (
        "steps.diff.outputs.status == '2' && "
        "!contains(github.event.pull_request.labels.*.name, env.REVIEWED_LABEL)"
    )
    assert "exit 1" in gate["run"]
