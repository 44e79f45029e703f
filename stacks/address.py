"""The workbench's stable address: an Elastic IP that outlives stops, starts and replacements.

Not associated in the template: the instance associates it with itself at boot (the `identity`
step of provision.sh, assets/identity.sh), which is also how a replacement instance takes it over
from the old one. An AWS::EC2::EIPAssociation would be replaced along with the instance and
CloudFormation would delete the old association (the address's only link) in the cleanup phase,
after the new one exists. Deleting the stack releases the address (no DeletionPolicy): nothing
billable is left but the /home snapshot.
"""

from __future__ import annotations

from aws_cdk import Tags
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from workbench.config import WorkbenchConfig

# Stable logical ID: a renamed construct would release the address and allocate another.
ADDRESS_LOGICAL_ID = "WorkbenchAddress"


class WorkbenchAddress(Construct):
    def __init__(self, scope: Construct, id_: str, *, config: WorkbenchConfig) -> None:
        super().__init__(scope, id_)
        self.eip = ec2.CfnEIP(self, "Eip", domain="vpc")
        self.eip.override_logical_id(ADDRESS_LOGICAL_ID)
        Tags.of(self.eip).add("Name", f"{config.stack_name}-address")

    @property
    def public_ip(self) -> str:
        return self.eip.attr_public_ip

    @property
    def allocation_id(self) -> str:
        return self.eip.attr_allocation_id
