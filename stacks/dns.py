"""The domain's A record, when the configuration names a Route 53 hosted zone for it."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_route53 as route53
from constructs import Construct

from workbench.config import WorkbenchConfig

RECORD_TTL = Duration.minutes(5)


class DnsRecord(Construct):
    """`https=<domain>` with `hosted_zone_id`: an A record for the domain to the Elastic IP.

    The zone comes from its ID and name (`from_hosted_zone_attributes`): no lookup, so synth
    stays offline. Without a hosted zone the stack creates nothing and the `DnsRecord` output
    says which record to create.
    """

    def __init__(self, scope: Construct, id_: str, *, config: WorkbenchConfig, address: str):
        super().__init__(scope, id_)
        assert config.domain and config.hosted_zone_id and config.hosted_zone_name
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self,
            "Zone",
            hosted_zone_id=config.hosted_zone_id,
            zone_name=config.hosted_zone_name,
        )
        self.record = route53.ARecord(
            self,
            "Record",
            zone=zone,
            # Absolute (trailing dot): CDK would otherwise append the zone's name.
            record_name=f"{config.domain}.",
            target=route53.RecordTarget.from_ip_addresses(address),
            # Short: a replaced address reaches resolvers within minutes.
            ttl=RECORD_TTL,
        )
