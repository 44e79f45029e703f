"""sg-diff between git refs, on a temporary repository holding this project in a few commits.

Each ref is checked out into a temporary worktree and synthesized by its own app.py; the
repository is left without the worktree afterwards, also when synthesizing fails. Both refs are
located before either is synthesized, so a mistyped ref costs no synth. How a change is judged
(widening or narrowing, on real templates) is test_sg_rules_file.py's and test_sgdiff.py's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.synth import ROOT

GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), "-c", "commit.gpgsign=false", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    return result.stdout


def set_context(repo: Path, **values: str) -> None:
    path = repo / "cdk.json"
    data = json.loads(path.read_text())
    data["context"].update(values)
    path.write_text(json.dumps(data, indent=2) + "\n")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """main: the project as it is (default ssh_cidr), then ssh_cidr restricted to one address.
    Branch `broken`: a commit whose cdk.json does not synthesize."""
    root = tmp_path_factory.mktemp("repo")
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "workbench, default ssh_cidr")
    set_context(root, ssh_cidr="203.0.113.4/32")
    git(root, "commit", "-q", "-am", "restrict ssh_cidr")
    git(root, "checkout", "-q", "-b", "broken")
    set_context(root, ssh_cidr="banana")
    git(root, "commit", "-q", "-am", "an ssh_cidr that does not parse")
    git(root, "checkout", "-q", "main")
    return root


def sg_diff(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "sg-diff", *args, "--repo", str(repo)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def worktrees(repo: Path) -> list[str]:
    return [
        line
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def test_restricting_ssh_between_two_refs_is_a_narrowing(repo):
    result = sg_diff(repo, "HEAD~1", "HEAD")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "**Security groups: 1 change, 0 widen exposure**"
    old, new = (git(repo, "rev-parse", "--short=7", ref).strip() for ref in ("HEAD~1", "HEAD"))
    assert lines[2] == f"Old: `HEAD~1` ({old}); new: `HEAD` ({new})."
    assert (
        # Two stacks (the image stack's build network too): group IDs carry the stack's name.
        "| changed | `Workbench/WorkbenchSecurityGroup` | ingress | tcp | 22 | 0.0.0.0/0 (world) → "
        "**203.0.113.4/32** | SSH for administration and tunnels (ssh_cidr) | "
        "no longer world-open; CIDR shrank from 0.0.0.0/0 |"
    ) in lines
    assert worktrees(repo) == [f"worktree {repo}"], "temporary worktrees are removed"


def test_a_ref_that_does_not_synthesize_is_one_line_exit_3_and_leaves_no_worktree(repo):
    result = sg_diff(repo, "broken", "main")
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "error: OLD: synthesizing failed: ssh_cidr: got 'banana'; expected an IPv4 CIDR such "
        "as 203.0.113.4/32, or 'none' to close port 22"
    )
    assert result.stdout == ""
    assert worktrees(repo) == [f"worktree {repo}"]


def test_a_ref_that_does_not_exist_is_one_line_exit_3(repo):
    result = sg_diff(repo, "main", "no-such-branch")
    assert result.returncode == 3
    assert result.stderr.strip() == (
        f"error: NEW: 'no-such-branch' is neither a template file nor a git ref in {repo}"
    )
    assert worktrees(repo) == [f"worktree {repo}"], "no temporary worktree left"
