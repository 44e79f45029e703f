"""Deploy readiness: `cdk deploy` succeeds only once provision.sh reports the workbench answers.

A wait condition rather than the instance's CreationPolicy: with a CreationPolicy the instance is
not CREATE_COMPLETE until provisioning signals, so nothing that depends on the instance (the /home
volume's attachment) could exist while provisioning runs. Here the instance completes as soon as it
runs, the attachment follows within seconds, and the wait condition, which depends on both, holds
the deploy until provision.sh PUTs its result to the handle's presigned URL (no IAM permission
needed, and no AWS CLI: curl is enough).
"""

from __future__ import annotations

from aws_cdk import CfnResource, CfnWaitCondition, CfnWaitConditionHandle
from constructs import Construct

# Stable logical IDs. CloudFormation never updates a wait condition: it waits once, when the stack
# is created (see the README on replacing the instance).
READY_HANDLE_LOGICAL_ID = "WorkbenchReadyHandle"
READY_LOGICAL_ID = "WorkbenchReady"
# provision.sh installs R, RStudio, JupyterLab and Shiny: about 10-15 minutes on a t3.medium.
READY_TIMEOUT_SECONDS = 30 * 60
READY_SIGNALS = 1


class Readiness(Construct):
    """The handle exists first, so the instance's user data can carry its URL (`url`);
    `wait_for` adds the condition once the resources it must follow exist."""

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        self.handle = CfnWaitConditionHandle(self, "Handle")
        self.handle.override_logical_id(READY_HANDLE_LOGICAL_ID)
        self.condition: CfnWaitCondition | None = None

    @property
    def url(self) -> str:
        """The presigned URL that provision.sh signals (a token until deploy time)."""
        return self.handle.ref

    def wait_for(self, *resources: CfnResource) -> CfnWaitCondition:
        """Wait for the signal only once `resources` exist (the instance, the /home attachment):
        the timeout starts then, and provisioning can count on them."""
        self.condition = CfnWaitCondition(
            self,
            "Condition",
            handle=self.handle.ref,
            count=READY_SIGNALS,
            timeout=str(READY_TIMEOUT_SECONDS),
        )
        self.condition.override_logical_id(READY_LOGICAL_ID)
        for resource in resources:
            self.condition.add_resource_dependency(resource)
        return self.condition
