"""HTTPS in the template: exactly 443 more (sg-diff calls it widening), https:// outputs, and the
domain's A record in its hosted zone with no lookup."""

from __future__ import annotations

import json

import pytest

from tests.stack.test_security_group import ingress
from workbench.sgdiff import diff
from workbench.sgrules import parse_template

WORLD = "0.0.0.0/0"


@pytest.mark.parametrize("context", ["https_ip", "https_domain"])
def test_https_adds_exactly_443_from_anywhere(synthesized, context):
    _, template = synthesized(context)
    assert ingress(template) == {
        ("tcp", 22, 22, WORLD),
        ("tcp", 80, 80, WORLD),
        ("tcp", 443, 443, WORLD),
    }


def test_sg_diff_calls_the_443_rule_widening(synthesized):
    _, default = synthesized("default")
    _, https = synthesized("https_ip")
    result = diff(
        parse_template(default, name="Workbench"),
        parse_template(https, name="Workbench"),
        old_label="default",
        new_label="https=ip",
    )
    assert result.verdict == "1 change, 1 widens exposure"
    (change,) = result.changes
    assert change.widens and change.new.from_port == 443 and change.new.peer == WORLD


def outputs(template: dict) -> dict[str, str]:
    return {name: json.dumps(o["Value"]) for name, o in template["Outputs"].items()}


def test_the_urls_are_https_with_the_name_on_the_certificate(synthesized):
    _, ip = synthesized("https_ip")
    landing = ip["Outputs"]["LandingUrl"]["Value"]
    assert landing["Fn::Join"][1][0] == "https://" and landing["Fn::Join"][1][-1] == "/"
    assert "http://" not in json.dumps(ip["Outputs"]["JupyterhubUrl"])
    _, domain = synthesized("https_domain")
    assert domain["Outputs"]["LandingUrl"]["Value"] == "https://workbench.example.org/"
    assert domain["Outputs"]["RstudioUrl"]["Value"] == "https://workbench.example.org/rstudio/"
    assert "DnsRecord" not in ip["Outputs"]


def test_a_hosted_zone_gets_the_a_record_to_the_public_address(synthesized):
    _, template = synthesized("https_domain")
    records = [r for r in template["Resources"].values() if r["Type"] == "AWS::Route53::RecordSet"]
    (record,) = records
    props = record["Properties"]
    assert props["Type"] == "A" and props["Name"] == "workbench.example.org."
    assert props["HostedZoneId"] == "Z0123456789ABCDEFGHIJ", "no lookup: the ID as given"
    assert props["TTL"] == "300"
    (address,) = props["ResourceRecords"]
    assert json.dumps(address) == json.dumps(template["Outputs"]["PublicIp"]["Value"]), (
        "the record points where the outputs say the workbench is"
    )
    dns = template["Outputs"]["DnsRecord"]
    assert "Z0123456789ABCDEFGHIJ" in dns["Description"]


def test_no_record_without_a_hosted_zone_and_none_by_default(synthesized):
    for context in ("default", "https_ip"):
        _, template = synthesized(context)
        assert not [r for r in template["Resources"].values()
                    if r["Type"].startswith("AWS::Route53::")]  # fmt: skip
