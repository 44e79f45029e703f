"""Small synthetic CloudFormation templates for the security-group tests."""

from __future__ import annotations

import copy
from typing import Any

GROUP = "WorkbenchSecurityGroup"
ALL_OUT = {"CidrIp": "0.0.0.0/0", "Description": "all out", "IpProtocol": "-1"}


def tcp(port: int | tuple[int, int], cidr: str = "0.0.0.0/0", description: str = "") -> dict:
    low, high = port if isinstance(port, tuple) else (port, port)
    key = "CidrIpv6" if ":" in cidr else "CidrIp"
    rule: dict[str, Any] = {key: cidr, "FromPort": low, "IpProtocol": "tcp", "ToPort": high}
    if description:
        rule["Description"] = description
    return rule


def group(*ingress: dict, egress: list[dict] | None = None, description: str = "web") -> dict:
    props: dict[str, Any] = {
        "GroupDescription": description,
        "SecurityGroupIngress": list(ingress),
        "VpcId": {"Ref": "Vpc8378EB38"},
    }
    props["SecurityGroupEgress"] = [ALL_OUT] if egress is None else egress
    if not props["SecurityGroupEgress"]:
        del props["SecurityGroupEgress"]
    return {"Type": "AWS::EC2::SecurityGroup", "Properties": props}


def template(**resources: dict) -> dict:
    return {"Resources": {"Vpc8378EB38": {"Type": "AWS::EC2::VPC"}, **copy.deepcopy(resources)}}


def web(*ingress: dict, **kwargs: Any) -> dict:
    """A template with the workbench's group holding `ingress`."""
    return template(**{GROUP: group(*ingress, **kwargs)})


DEFAULT = web(tcp(80, description="HTTP"), tcp(22, description="SSH"))
