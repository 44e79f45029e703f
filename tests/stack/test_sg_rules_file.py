"""The real stack's security-group rules: the committed rules file, and diffs between contexts."""

from __future__ import annotations

import difflib
import subprocess
import sys

import pytest

from tests.synth import ROOT, synth
from workbench.image import image_stack_name
from workbench.sgdiff import Diff, diff, render_markdown
from workbench.sgrules import SNAPSHOT, TemplateRules, parse_template, snapshot_markdown


def rules(synthesized, context: str) -> TemplateRules:
    config, template = synthesized(context)
    return parse_template(template, name=config.stack_name)


def snapshot_of_both_stacks(synthesized, image_synthesized) -> str:
    """The rules file as it should be: the workbench's groups and the image build's."""
    config, template, _ = image_synthesized
    image = parse_template(template, name=image_stack_name(config))
    return snapshot_markdown([rules(synthesized, "default"), image])


@pytest.fixture(scope="module")
def api_public(tmp_path_factory) -> TemplateRules:
    config, template = synth(tmp_path_factory.mktemp("api_public"), penguin_api_public=True)
    return parse_template(template, name=config.stack_name)


def compare(old: TemplateRules, new: TemplateRules) -> Diff:
    return diff(old, new, old_label="old", new_label="new")


def test_the_committed_rules_file_matches_the_default_templates(synthesized, image_synthesized):
    expected = snapshot_of_both_stacks(synthesized, image_synthesized)
    actual = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    if actual != expected:
        changes = "".join(
            difflib.unified_diff(
                actual.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                f"{SNAPSHOT.name} (committed)",
                f"{SNAPSHOT.name} (from the template)",
            )
        )
        pytest.fail(
            f"{SNAPSHOT.name} no longer matches the default template's security-group rules: "
            f"run `make sg-snapshot` and commit the result.\n{changes}",
            pytrace=False,
        )


def test_make_sg_snapshot_writes_exactly_what_the_guard_expects(
    tmp_path, synthesized, image_synthesized
):
    # `make sg-snapshot` synthesizes through app.py (the CDK CLI's protocol), the guard above
    # in-process: both must give the same file.
    out = tmp_path / "rules.md"
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "sg-rules", "--snapshot", "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text() == snapshot_of_both_stacks(synthesized, image_synthesized)


def test_the_default_stack_opens_http_and_ssh_to_the_world_and_nothing_else(synthesized):
    found = {
        (r.direction, r.protocol, r.ports, r.peer, r.world_open)
        for r in rules(synthesized, "default").rules
    }
    assert found == {
        ("ingress", "tcp", "80", "0.0.0.0/0", True),
        ("ingress", "tcp", "22", "0.0.0.0/0", True),
        ("egress", "all", "all", "0.0.0.0/0", True),
    }


def test_restricting_ssh_cidr_is_a_narrowing(synthesized):
    result = compare(rules(synthesized, "default"), rules(synthesized, "restricted"))
    ((change),) = result.changes
    assert (change.kind, change.widens, change.narrows) == ("changed", False, True)
    assert change.why == ("no longer world-open", "CIDR shrank from 0.0.0.0/0")
    assert result.exit_status == 1
    text = render_markdown(result)
    assert text.splitlines()[0] == "**Security groups: 1 change, 0 widen exposure**"
    assert "| 22 | 0.0.0.0/0 (world) → **203.0.113.4/32** |" in text


def test_opening_ssh_cidr_to_the_world_is_a_widening(synthesized):
    result = compare(rules(synthesized, "restricted"), rules(synthesized, "default"))
    ((change),) = result.changes
    assert change.widens
    assert change.why == ("became world-open", "CIDR grew from 203.0.113.4/32")
    assert result.exit_status == 2


def test_opening_a_closed_ssh_port_is_a_new_world_open_port(synthesized):
    result = compare(rules(synthesized, "closed"), rules(synthesized, "default"))
    assert [(c.kind, c.rule.ports, c.why) for c in result.changes] == [
        ("added", "22", ("new world-open port",))
    ]
    assert result.exit_status == 2


def test_penguin_api_public_has_no_effect_on_the_security_group(synthesized, api_public):
    # The API goes through NGINX on port 80 when public: no new port opens.
    default = rules(synthesized, "default")
    result = compare(default, api_public)
    assert (result.count, result.exit_status) == (0, 0), render_markdown(result)
    assert set(api_public.rules) == set(default.rules)
