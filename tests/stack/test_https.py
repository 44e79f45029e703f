"""HTTPS in the template: exactly 443 more (sg-diff calls it widening), https:// outputs, and the
domain's A record in its hosted zone with no lookup.

The domain is synthesized whole (once per session, `synthesized`); https=ip only changes the
security group and the outputs' text, so its template is the network construct's alone (a
second whole synth costs seconds) and its outputs come from `output_specs`."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from stacks.network import WorkbenchNetwork
from tests.stack.test_security_group import ingress
from workbench.config import WorkbenchConfig
from workbench.outputs import output_specs
from workbench.sgdiff import diff
from workbench.sgrules import parse_template

WORLD = "0.0.0.0/0"
HTTPS_RULES = {("tcp", 22, 22, WORLD), ("tcp", 80, 80, WORLD), ("tcp", 443, 443, WORLD)}


@pytest.fixture(scope="module")
def network_only():
    """`name -> template` of a stack holding only the network construct, for a config."""

    def synth(config: WorkbenchConfig) -> dict:
        stack = Stack(App(), "Workbench")
        WorkbenchNetwork(stack, "Network", config=config)
        return Template.from_stack(stack).to_json()

    return synth


def test_https_adds_exactly_443_from_anywhere(synthesized, network_only):
    _, domain = synthesized("https_domain")
    assert ingress(domain) == HTTPS_RULES
    assert ingress(network_only(WorkbenchConfig(https="ip"))) == HTTPS_RULES
    assert ingress(network_only(WorkbenchConfig())) == HTTPS_RULES - {("tcp", 443, 443, WORLD)}


def test_sg_diff_calls_the_443_rule_widening(network_only):
    result = diff(
        parse_template(network_only(WorkbenchConfig()), name="Workbench"),
        parse_template(network_only(WorkbenchConfig(https="ip")), name="Workbench"),
        old_label="default",
        new_label="https=ip",
    )
    assert result.verdict == "1 change, 1 widens exposure"
    (change,) = result.changes
    assert change.widens and change.new.from_port == 443 and change.new.peer == WORLD


def outputs(template: dict) -> dict[str, str]:
    return {name: json.dumps(o["Value"]) for name, o in template["Outputs"].items()}


def test_the_urls_are_https_with_the_name_on_the_certificate(synthesized):
    ip = {spec.name: spec.template for spec in output_specs(WorkbenchConfig(https="ip"))}
    assert ip["LandingUrl"] == "https://{ip}/" and ip["JupyterhubUrl"] == "https://{ip}/jupyter/"
    assert "DnsRecord" not in ip
    _, domain = synthesized("https_domain")
    assert domain["Outputs"]["LandingUrl"]["Value"] == "https://workbench.example.org/"
    assert domain["Outputs"]["RstudioUrl"]["Value"] == "https://workbench.example.org/rstudio/"


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
    _, template = synthesized("default")
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::Route53")]
    without_zone = output_specs(WorkbenchConfig(https="workbench.example.org"))
    (record,) = [spec for spec in without_zone if spec.name == "DnsRecord"]
    assert record.template == "workbench.example.org A {ip}"
    assert "Create this A record" in record.description
