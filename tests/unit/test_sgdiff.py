"""Judging security-group changes: every kind of change, widening marked, exit status by verdict."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.synth import ROOT
from tests.unit.sg_templates import DEFAULT, GROUP, group, tcp, template, web
from workbench.sgdiff import Diff, diff, render_markdown
from workbench.sgrules import parse_template


def compare(old: dict, new: dict) -> Diff:
    return diff(
        parse_template(old, name="Old"),
        parse_template(new, name="New"),
        old_label="`old`",
        new_label="`new`",
    )


def summary(result: Diff) -> list[tuple]:
    """(kind, widens, narrows, why) per change: what a reviewer reads first."""
    return [(c.kind, c.widens, c.narrows, c.why) for c in result.changes]


def test_identical_templates_have_no_changes_and_exit_0():
    result = compare(DEFAULT, DEFAULT)
    assert (result.count, result.exit_status) == (0, 0)
    assert render_markdown(result).splitlines()[0] == (
        "**Security groups: no security group changes**"
    )


def test_a_new_world_open_port_widens_and_exits_2():
    result = compare(
        DEFAULT,
        web(
            tcp(80, description="HTTP"),
            tcp(22, description="SSH"),
            tcp(8787, description="RStudio"),
        ),
    )
    assert summary(result) == [("added", True, False, ("new world-open port",))]
    assert result.exit_status == 2
    text = render_markdown(result)
    assert text.splitlines()[0] == "**Security groups: 1 change, 1 widens exposure**"
    assert "| added | `WorkbenchSecurityGroup` | ingress | tcp | 8787 | 0.0.0.0/0 (world) |" in text


def test_a_removed_rule_narrows_and_exits_1():
    result = compare(DEFAULT, web(tcp(80, description="HTTP")))
    assert summary(result) == [("removed", False, True, ("rule removed (was world-open)",))]
    assert result.exit_status == 1
    assert render_markdown(result).startswith("**Security groups: 1 change, 0 widen exposure**")


def test_a_cidr_that_grew_widens():
    result = compare(web(tcp(22, "10.1.0.0/16")), web(tcp(22, "10.0.0.0/8")))
    assert summary(result) == [("changed", True, False, ("CIDR grew from 10.1.0.0/16",))]
    assert "10.1.0.0/16 → **10.0.0.0/8**" in render_markdown(result)


def test_a_cidr_that_shrank_narrows():
    result = compare(web(tcp(22, "10.0.0.0/8")), web(tcp(22, "10.1.0.0/16")))
    assert summary(result) == [("changed", False, True, ("CIDR shrank from 10.0.0.0/8",))]
    assert result.exit_status == 1


def test_a_rule_that_became_world_open_widens():
    result = compare(web(tcp(22, "203.0.113.4/32")), web(tcp(22)))
    assert summary(result) == [
        ("changed", True, False, ("became world-open", "CIDR grew from 203.0.113.4/32"))
    ]


def test_a_port_range_that_grew_widens_and_one_that_shrank_narrows():
    small, large = web(tcp((8000, 8010), "10.0.0.0/8")), web(tcp((8000, 8100), "10.0.0.0/8"))
    assert summary(compare(small, large)) == [
        ("changed", True, False, ("port range grew from 8000-8010",))
    ]
    assert summary(compare(large, small)) == [
        ("changed", False, True, ("port range shrank from 8000-8100",))
    ]


def test_a_port_that_moved_widens_and_narrows_at_once():
    (change,) = compare(web(tcp(22, "10.0.0.0/8")), web(tcp(2222, "10.0.0.0/8"))).changes
    assert (change.widens, change.narrows) == (True, True)
    assert change.why == (
        "allows traffic it did not allow before",
        "narrows: allows less than before",
    )


def test_protocol_all_widens():
    all_traffic = {"CidrIp": "10.0.0.0/8", "IpProtocol": "-1"}
    result = compare(web(tcp(22, "10.0.0.0/8")), web(all_traffic))
    assert summary(result) == [("changed", True, False, ("all traffic (protocol -1)",))]


def test_ipv6_world_widens():
    result = compare(
        DEFAULT,
        web(
            tcp(80, description="HTTP"),
            tcp(22, description="SSH"),
            tcp(80, "::/0", "HTTP over IPv6"),
        ),
    )
    assert summary(result) == [("added", True, False, ("new world-open port", "IPv6 ::/0"))]


def test_a_standalone_ingress_resource_is_seen_and_judged():
    standalone = {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Properties": {"GroupId": {"Fn::GetAtt": [GROUP, "GroupId"]}, **tcp(3838)},
    }
    new = template(**{GROUP: DEFAULT["Resources"][GROUP], "ShinyIngress5F3A9C21": standalone})
    result = compare(DEFAULT, new)
    assert summary(result) == [
        (
            "added",
            True,
            False,
            ("new world-open port", "standalone AWS::EC2::SecurityGroupIngress"),
        )
    ]


def test_moving_a_rule_from_inline_to_standalone_is_no_change():
    standalone = {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Properties": {"GroupId": {"Ref": GROUP}, **tcp(22, description="SSH")},
    }
    new = template(**{GROUP: group(tcp(80, description="HTTP")), "Ssh": standalone})
    assert compare(DEFAULT, new).count == 0


def test_a_new_group_is_named_and_its_rules_judged():
    app = group(tcp(8080, "10.20.0.0/24", "API from the VPC"), egress=[], description="api")
    new = template(**DEFAULT["Resources"], ApiSecurityGroup3A1B2C4D=app)
    result = compare(DEFAULT, new)
    assert [(g.kind, g.new.id) for g in result.groups] == [("added", "ApiSecurityGroup3A1B2C4D")]
    assert summary(result) == [
        ("added", True, False, ("new rule",)),
        (
            "added",
            True,
            False,
            ("egress", "new world-open destination", "all traffic (protocol -1)"),
        ),
    ]
    text = render_markdown(result)
    assert "- new group `ApiSecurityGroup3A1B2C4D`: api" in text
    assert "**egress** (outbound)" in text
    assert "Egress rules limit traffic *from* the instance" in text


def test_egress_narrowing_says_egress():
    https_out = {"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    result = compare(
        DEFAULT, web(tcp(80, description="HTTP"), tcp(22, description="SSH"), egress=[https_out])
    )
    ((kind, widens, narrows, why),) = summary(result)
    assert (kind, widens, narrows) == ("changed", False, True)
    assert why[0] == "egress"


def test_a_description_change_is_a_change_that_does_not_widen():
    result = compare(DEFAULT, web(tcp(80, description="HTTP to NGINX"), tcp(22, description="SSH")))
    assert summary(result) == [("changed", False, False, ("description only",))]
    assert (result.exit_status, result.verdict) == (1, "1 change, 0 widen exposure")


def test_a_rule_already_covered_by_others_does_not_widen():
    halves = web(tcp(22, "10.0.0.0/9"), tcp(22, "10.128.0.0/9"), tcp((20, 21), "10.0.0.0/8"))
    result = compare(
        halves,
        web(
            tcp(22, "10.0.0.0/9"),
            tcp(22, "10.128.0.0/9"),
            tcp((20, 21), "10.0.0.0/8"),
            tcp((21, 22), "10.0.0.0/8"),
        ),
    )
    assert summary(result) == [("added", False, False, ("already allowed by other rules",))]


def test_a_group_moved_in_the_construct_tree_is_matched_despite_its_new_hash():
    def two_groups(app_id: str) -> dict:
        web_sg = group(tcp(80))
        app = group(
            {"SourceSecurityGroupId": {"Fn::GetAtt": [GROUP, "GroupId"]}, **tcp(8080)},
            description="app",
        )
        del app["Properties"]["SecurityGroupIngress"][0]["CidrIp"]
        back = {"SourceSecurityGroupId": {"Fn::GetAtt": [app_id, "GroupId"]}, **tcp(9090)}
        del back["CidrIp"]
        web_sg["Properties"]["SecurityGroupIngress"].append(back)
        return template(**{GROUP: web_sg, app_id: app})

    result = compare(two_groups("AppSecurityGroup1A2B3C4D"), two_groups("AppSecurityGroup9F8E7D6C"))
    assert result.changes == ()
    assert [(g.kind, g.old.id, g.new.id) for g in result.groups] == [
        ("renamed", "AppSecurityGroup1A2B3C4D", "AppSecurityGroup9F8E7D6C")
    ]
    assert result.exit_status == 1, "a replaced group is a change even with the same rules"
    assert "CloudFormation replaces the group" in render_markdown(result)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "sg-diff", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_cli_compares_template_files_and_exits_by_verdict(tmp_path):
    old, new = tmp_path / "old.template.json", tmp_path / "new.template.json"
    old.write_text(json.dumps(web(tcp(22, "203.0.113.4/32"))))
    new.write_text(json.dumps(web(tcp(22))))
    out = tmp_path / "report.md"
    result = run(str(old), str(new), "--output", str(out))
    assert result.returncode == 2, result.stderr
    assert result.stdout.splitlines()[0] == "**Security groups: 1 change, 1 widens exposure**"
    assert out.read_text() == result.stdout
    assert run(str(new), str(old)).returncode == 1
    assert run(str(old), str(old)).returncode == 0


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["{tmp}/bad.json", "{tmp}/good.json"], "error: OLD: {tmp}/bad.json: not JSON (Expecting"),
        (
            ["{tmp}/good.json", "no-such-ref-xyz"],
            "error: NEW: 'no-such-ref-xyz' is neither a template file nor a git ref in",
        ),
        (["{tmp}", "{tmp}/good.json"], "error: OLD: '{tmp}' is a directory without app.py"),
        (["{tmp}/good.json"], "error: the following arguments are required: NEW"),
        (["--frobnicate", "a", "b"], "error: unrecognized arguments: --frobnicate"),
        (
            ["-c", "ssh_cidr", "{tmp}/good.json", "{tmp}/good.json"],
            "error: -c/--context: got 'ssh_cidr'; expected KEY=VALUE",
        ),
        (
            ["-c", "ssh_cird=203.0.113.4/32", "{tmp}/good.json", "{tmp}/good.json"],
            "error: unknown context key ssh_cird; did you mean ssh_cidr?",
        ),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_3(tmp_path, args, line):
    (tmp_path / "bad.json").write_text("not json")
    (tmp_path / "good.json").write_text(json.dumps(DEFAULT))
    result = run(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 3
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(line.format(tmp=tmp_path)), result.stderr
    assert result.stdout == ""


def test_cli_outside_a_git_repository_says_so(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(DEFAULT))
    result = run(str(good), "main", "--repo", str(tmp_path))
    assert result.returncode == 3
    assert result.stderr.strip() == (
        f"error: NEW: 'main' is not a template file, and {tmp_path} is not a git repository"
    )


def test_dropping_explicit_allow_all_egress_for_ec2s_default_is_not_a_widening():
    result = compare(
        DEFAULT, web(tcp(80, description="HTTP"), tcp(22, description="SSH"), egress=[])
    )
    # EC2's default egress rule allows exactly what the explicit one did.
    assert summary(result) == [("changed", False, False, ("description only",))]
