"""Policies on exposure: the exact set of open ports, from where, for each ssh_cidr setting."""

from __future__ import annotations

import pytest

from stacks.network import SECURITY_GROUP_LOGICAL_ID


def ingress(template: dict) -> set[tuple]:
    """(protocol, from, to, source) of every ingress rule, inline or standalone."""
    rules = set()
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            entries = props.get("SecurityGroupIngress", [])
        elif resource["Type"] == "AWS::EC2::SecurityGroupIngress":
            entries = [props]
        else:
            continue
        for rule in entries:
            source = (
                rule.get("CidrIp") or rule.get("CidrIpv6") or str(rule.get("SourceSecurityGroupId"))
            )
            rules.add((rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"), source))
    return rules


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ("default", {("tcp", 80, 80, "0.0.0.0/0"), ("tcp", 22, 22, "0.0.0.0/0")}),
        ("restricted", {("tcp", 80, 80, "0.0.0.0/0"), ("tcp", 22, 22, "203.0.113.4/32")}),
        ("closed", {("tcp", 80, 80, "0.0.0.0/0")}),
    ],
)
def test_only_http_and_configured_ssh_are_open(synthesized, context, expected):
    _, template = synthesized(context)
    assert ingress(template) == expected


def test_there_is_exactly_one_security_group_and_it_has_a_description(synthesized):
    _, template = synthesized("default")
    groups = {
        k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::EC2::SecurityGroup"
    }
    assert list(groups) == [SECURITY_GROUP_LOGICAL_ID]
    assert "80" in groups[SECURITY_GROUP_LOGICAL_ID]["Properties"]["GroupDescription"]


def test_every_rule_says_why_it_exists(synthesized):
    _, template = synthesized("default")
    props = template["Resources"][SECURITY_GROUP_LOGICAL_ID]["Properties"]
    for rule in props["SecurityGroupIngress"]:
        assert rule.get("Description"), f"ingress rule without description: {rule}"


def test_egress_is_open_so_the_instance_can_install_packages(synthesized):
    _, template = synthesized("default")
    egress = template["Resources"][SECURITY_GROUP_LOGICAL_ID]["Properties"]["SecurityGroupEgress"]
    assert egress == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "Allow all outbound traffic by default",
            "IpProtocol": "-1",
        }
    ]


def test_the_instance_uses_the_workbench_security_group(synthesized):
    _, template = synthesized("default")
    instances = [r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::Instance"]
    assert len(instances) == 1
    interfaces = instances[0]["Properties"]["NetworkInterfaces"]
    assert interfaces[0]["GroupSet"] == [{"Fn::GetAtt": [SECURITY_GROUP_LOGICAL_ID, "GroupId"]}]
    assert "SecurityGroupIds" not in instances[0]["Properties"]
