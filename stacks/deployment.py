"""In-place updates: the deployment parameter the instance reads, and the SSM association that
makes a running instance apply a new one.

Before, the bundle's key and the wait condition's URL were in the user data, and CloudFormation
applies a changed UserData by stopping and starting the instance: every deploy that touched the
bundle ended every kernel and R session. Now the user data names only this parameter
(workbench/deployment.py); the association's command names the revision, so a deploy that
changes it updates the association, and State Manager (the SSM agent Ubuntu's AMIs ship) runs the
bootstrap on the running instance, which applies the new deployment with provision.sh: only the
services whose files changed restart. `cdk deploy` still waits on the wait condition, which
depends on this association (stacks/readiness.py).

Why not cfn-hup (CloudFormation's own in-place mechanism): it polls metadata every 15 minutes and
needs the helper scripts, which Ubuntu does not ship. An SSM association needs neither, and the
instance role already has Session Manager's policy.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.readiness import READY_TIMEOUT_SECONDS
from workbench.deployment import association_command, record

# Stable logical IDs, for readers of the stack's events.
DEPLOYMENT_PARAMETER_LOGICAL_ID = "WorkbenchDeployment"
ASSOCIATION_LOGICAL_ID = "WorkbenchProvisioning"
# The command's wait for the bootstrap, then one provisioning run: as long as the deploy waits for
# its signal (AWS-RunShellScript's own default, an hour, outlasted it).
EXECUTION_TIMEOUT_SECONDS = READY_TIMEOUT_SECONDS


class Deployment(Construct):
    """The parameter `name` holding the deployment record (`values` and `revision`), which
    `reader` may read and `instance` waits for (it reads it at its first boot), and the
    association that runs the bootstrap on `instance` whenever the revision changes.

    `name` is the one the instance's user data already names (workbench.deployment's
    parameter_name), and `revision` is stacks/readiness.py's revision() of the complete
    instance: so the instance exists before this construct does.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        revision: str,
        values: dict[str, str],
        instance: ec2.Instance,
        reader: iam.IRole,
    ) -> None:
        super().__init__(scope, id_)
        self.name = name
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=name,
            string_value=record({**values, "WORKBENCH_REVISION": revision}),
            description="The workbench's current deployment, read by the instance's bootstrap",
        )
        cfn_parameter = self.parameter.node.default_child
        cfn_parameter.override_logical_id(DEPLOYMENT_PARAMETER_LOGICAL_ID)
        # By its literal name (the user data's), not the parameter's Ref: the policy needs no
        # dependency on the parameter.
        reader.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadItsDeployment",
                actions=["ssm:GetParameter"],
                resources=[
                    Stack.of(self).format_arn(
                        service="ssm", resource="parameter", resource_name=name.lstrip("/")
                    )
                ],
            )
        )
        cfn_instance = instance.node.default_child
        cfn_instance.add_resource_dependency(cfn_parameter)
        self.association = ssm.CfnAssociation(
            self,
            "Association",
            name="AWS-RunShellScript",
            targets=[
                ssm.CfnAssociation.TargetProperty(key="InstanceIds", values=[instance.instance_id])
            ],
            parameters={
                "commands": [association_command(revision)],
                "executionTimeout": [str(EXECUTION_TIMEOUT_SECONDS)],
            },
        )
        self.association.override_logical_id(ASSOCIATION_LOGICAL_ID)
        # Apply the new deployment, not the old one: the parameter is updated first.
        self.association.add_resource_dependency(cfn_parameter)
