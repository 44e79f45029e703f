"""Reading security-group rules from templates: every rule kind, readable peers, clear errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.synth import ROOT
from tests.unit.sg_templates import ALL_OUT, DEFAULT, GROUP, group, tcp, template, web
from workbench.sgrules import (
    InputError,
    checkout_context,
    load_template,
    parse_template,
    render_json,
    render_markdown,
    render_table,
    snapshot_markdown,
)


def rules_of(tpl: dict) -> set[tuple]:
    parsed = parse_template(tpl, name="Test")
    return {
        (r.group, r.direction, r.protocol, r.ports, r.peer, r.world_open, r.origin)
        for r in parsed.rules
    }


def test_inline_ingress_and_egress_with_the_world_flag():
    assert rules_of(DEFAULT) == {
        (GROUP, "ingress", "tcp", "80", "0.0.0.0/0", True, "inline"),
        (GROUP, "ingress", "tcp", "22", "0.0.0.0/0", True, "inline"),
        (GROUP, "egress", "all", "all", "0.0.0.0/0", True, "inline"),
    }


def test_every_protocol_and_port_form_is_normalised():
    tpl = web(
        {"CidrIp": "10.0.0.0/8", "IpProtocol": "6", "FromPort": "8000", "ToPort": "8010"},
        {"CidrIp": "10.0.0.0/8", "IpProtocol": "udp", "FromPort": 0, "ToPort": 65535},
        {"CidrIp": "10.0.0.0/8", "IpProtocol": "icmp", "FromPort": -1, "ToPort": -1},
        {"CidrIp": "10.0.0.0/8", "IpProtocol": "1", "FromPort": 8, "ToPort": -1},
        {"CidrIp": "10.0.0.0/8", "IpProtocol": "icmp", "FromPort": 3, "ToPort": 4},
        {"CidrIpv6": "2001:DB8::/32", "IpProtocol": "58", "FromPort": 128, "ToPort": 0},
        {"CidrIp": "10.0.0.0/8", "IpProtocol": "47"},
        {"CidrIp": "10.0.0.0/8", "IpProtocol": -1},
    )
    found = {(r.protocol_text, r.ports, r.peer) for r in parse_template(tpl, name="T").rules}
    assert found >= {
        ("tcp", "8000-8010", "10.0.0.0/8"),
        ("udp", "all", "10.0.0.0/8"),
        ("icmp", "all", "10.0.0.0/8"),
        ("icmp", "type 8", "10.0.0.0/8"),
        ("icmp", "type 3 code 4", "10.0.0.0/8"),
        ("icmpv6", "type 128 code 0", "2001:db8::/32"),
        ("protocol 47", "all", "10.0.0.0/8"),
        ("all (-1)", "all", "10.0.0.0/8"),
    }


def test_standalone_resources_and_group_references_read_as_names():
    tpl = template(
        **{
            GROUP: group(tcp(80)),
            "AppSg1A2B3C4D": group(description="app"),
            "AppSgFromWeb8080ABCDEF12": {
                "Type": "AWS::EC2::SecurityGroupIngress",
                "Properties": {
                    "GroupId": {"Fn::GetAtt": ["AppSg1A2B3C4D", "GroupId"]},
                    "IpProtocol": "tcp",
                    "FromPort": 8080,
                    "ToPort": 8080,
                    "SourceSecurityGroupId": {"Fn::GetAtt": [GROUP, "GroupId"]},
                },
            },
            "WebToPrefixList": {
                "Type": "AWS::EC2::SecurityGroupEgress",
                "Properties": {
                    "GroupId": {"Ref": GROUP},
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "DestinationPrefixListId": "pl-0123abcd",
                },
            },
            "Imported": {
                "Type": "AWS::EC2::SecurityGroupIngress",
                "Properties": {
                    "GroupId": "sg-0123456789abcdef0",
                    "IpProtocol": "tcp",
                    "FromPort": 5432,
                    "ToPort": 5432,
                    "CidrIp": {"Ref": "DbCidr"},
                },
            },
        }
    )
    tpl["Parameters"] = {"DbCidr": {"Type": "String"}}
    found = rules_of(tpl)
    assert ("AppSg1A2B3C4D", "ingress", "tcp", "8080", f"sg:{GROUP}", False, "standalone") in found
    assert (GROUP, "egress", "tcp", "443", "pl-0123abcd", False, "standalone") in found
    assert (
        "external:sg-0123456789abcdef0",
        "ingress",
        "tcp",
        "5432",
        "param:DbCidr",
        False,
        "standalone",
    ) in found


def test_a_group_that_lists_no_egress_gets_ec2s_default_rule():
    tpl = web(tcp(80), egress=[])
    egress = [r for r in parse_template(tpl, name="T").rules if r.direction == "egress"]
    assert [(r.protocol, r.peer, r.origin) for r in egress] == [("all", "0.0.0.0/0", "implicit")]


def test_ipv6_world_is_world_open():
    (rule,) = parse_template(web(tcp(443, "::/0"), egress=[ALL_OUT]), name="T").rules[:1]
    assert rule.world_open and rule.peer == "::/0"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22},
            "Test: WorkbenchSecurityGroup.SecurityGroupIngress[0]: got []; expected exactly one "
            "of CidrIp, CidrIpv6, SourcePrefixListId, SourceSecurityGroupId, "
            "SourceSecurityGroupName",
        ),
        (
            {**tcp(22), "CidrIpv6": "::/0"},
            'Test: WorkbenchSecurityGroup.SecurityGroupIngress[0]: got ["CidrIp", "CidrIpv6"];'
            " expected exactly one of CidrIp, CidrIpv6, SourcePrefixListId, "
            "SourceSecurityGroupId, SourceSecurityGroupName",
        ),
        (
            tcp(22, "10.0.0.300/8"),
            "Test: WorkbenchSecurityGroup.SecurityGroupIngress[0].CidrIp: got '10.0.0.300/8'; "
            "expected an IPv4 CIDR",
        ),
        (
            {**tcp(22), "IpProtocol": "tcpx"},
            "Test: WorkbenchSecurityGroup.SecurityGroupIngress[0].IpProtocol: got 'tcpx'; "
            "expected -1, tcp, udp, icmp, icmpv6 or 0-255",
        ),
        (
            {"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp"},
            "Test: WorkbenchSecurityGroup.SecurityGroupIngress[0].FromPort: got null; "
            "expected a whole number (tcp needs ports)",
        ),
        (
            tcp((90, 80)),
            "Test: WorkbenchSecurityGroup.SecurityGroupIngress[0].FromPort/ToPort: got [90, 80]; "
            "expected 0 <= FromPort <= ToPort <= 65535",
        ),
    ],
)
def test_a_malformed_rule_is_one_line_naming_where_what_and_what_is_allowed(rule, message):
    with pytest.raises(InputError) as caught:
        parse_template(web(rule), name="Test")
    assert str(caught.value) == message


def test_files_that_are_not_templates_are_refused(tmp_path):
    not_json = tmp_path / "a.template.json"
    not_json.write_text("{oops")
    with pytest.raises(InputError, match=r"a\.template\.json: not JSON \(Expecting"):
        load_template(not_json)
    no_resources = tmp_path / "b.json"
    no_resources.write_text('{"Outputs": {}}')
    with pytest.raises(InputError, match="not a CloudFormation template"):
        load_template(no_resources)
    with pytest.raises(InputError, match="cannot read it"):
        load_template(tmp_path / "missing.json")


def test_markdown_names_each_group_and_flags_the_world():
    text = render_markdown([parse_template(DEFAULT, name="Workbench")])
    assert "## Stack `Workbench`" in text
    assert f"### `{GROUP}`" in text
    assert "| ingress | tcp | 22 | `0.0.0.0/0` | **yes** | SSH |" in text


def test_the_snapshot_carries_no_hash_or_token_noise():
    text = snapshot_markdown([parse_template(DEFAULT, name="Workbench")])
    assert "Vpc8378EB38" not in text, "the VPC reference (a hashed logical ID) is noise"
    assert not re.search(r"[0-9a-f]{64}", text), "no asset hashes"
    assert text.startswith("<!-- Generated by `make sg-snapshot`")


def test_table_and_json_carry_the_same_rules():
    parsed = [parse_template(DEFAULT, name="Workbench")]
    table = render_table(parsed).splitlines()
    assert table[0].split() == [
        "stack",
        "group",
        "direction",
        "protocol",
        "ports",
        "source",
        "/",
        "destination",
        "world",
        "description",
    ]
    assert len(table) == 4 and all("WORLD" in line for line in table[1:])
    data = json.loads(render_json(parsed))
    assert [(r["direction"], r["ports"], r["world_open"]) for r in data[0]["rules"]] == [
        ("ingress", "22", True),
        ("ingress", "80", True),
        ("egress", "all", True),
    ]


def run(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args], cwd=cwd, capture_output=True, text=True
    )


def test_cli_reads_template_files(tmp_path):
    path = tmp_path / "Lab.template.json"
    path.write_text(json.dumps(DEFAULT))
    result = run("sg-rules", "--format", "json", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["stack"] == "Lab"


@pytest.mark.parametrize(
    ("args", "status", "line"),
    [
        (["sg-rules", "--format", "yaml"], 2, "error: argument --format: invalid choice: 'yaml'"),
        (["sg-rules", "-c", "ssh_cidr"], 2, "error: -c/--context: got 'ssh_cidr'; expected"),
        (
            ["sg-rules", "-c", "ssh_cird=203.0.113.4/32"],
            2,
            "error: unknown context key ssh_cird; did you mean ssh_cidr?",
        ),
        (["sg-rules", "/nonexistent.json"], 2, "error: /nonexistent.json: cannot read it"),
        (["sg-rules", "--snapshot", "x.json"], 2, "error: --snapshot: takes no TEMPLATE"),
        (["nope"], 2, "error: unknown command 'nope'; expected one of sg-rules, sg-diff"),
    ],
)
def test_cli_bad_input_is_one_line_without_traceback(args, status, line):
    result = run(*args)
    assert result.returncode == status
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(line), result.stderr
    assert result.stdout == ""


def test_cli_lists_its_commands():
    result = run("--help")
    assert result.returncode == 0
    assert "sg-rules" in result.stdout and "sg-diff" in result.stdout


def test_a_checkout_gets_only_the_overrides_it_knows():
    # sg-diff's -c applies to both sides: an older checkout never saw a key added since.
    older = {"ssh_cidr": "0.0.0.0/0", "key_name": None}
    overrides = {"ssh_cidr": "203.0.113.4/32", "users": "ada", "@aws-cdk/core:x": "true"}
    assert checkout_context(older, overrides) == {
        "ssh_cidr": "203.0.113.4/32",
        "key_name": None,
        "@aws-cdk/core:x": "true",
    }
