"""Deploy readiness: `cdk deploy` succeeds only once provision.sh reports the workbench answers.

A wait condition rather than the instance's CreationPolicy: with a CreationPolicy the instance is
not CREATE_COMPLETE until provisioning signals, so nothing that depends on the instance (the /home
volume's attachment) could exist while provisioning runs. Here the instance completes as soon as it
runs, the attachment follows within seconds, and the wait condition, which depends on both, holds
the deploy until provision.sh PUTs its result to the handle's presigned URL (no IAM permission
needed, and no AWS CLI: curl is enough).

CloudFormation never updates a wait condition (it has no updatable properties) and warns never to
reuse a handle in an update, since a new condition could count the old signals stored on it. So
the handle and the condition carry the bundle's revision in their logical IDs: a deploy that
changes the bundle replaces both, and waits for the new handle's signal, which only the
re-provisioned instance (its user data names the new URL) can send. Both are stateless, so a
changing ID costs nothing; the stateful resources (instance, volumes, security group) keep theirs.
"""

from __future__ import annotations

import re

from aws_cdk import CfnResource, CfnWaitCondition, CfnWaitConditionHandle
from constructs import Construct

# Logical IDs: these prefixes followed by the revision's first REVISION_CHARS hex digits.
READY_HANDLE_LOGICAL_ID_PREFIX = "WorkbenchReadyHandle"
READY_LOGICAL_ID_PREFIX = "WorkbenchReady"
# 32 bits: the chance that a changed bundle keeps its IDs (and so does not wait) is 1 in 4 billion.
REVISION_CHARS = 8
# provision.sh installs R, RStudio, JupyterLab and Shiny: about 10-15 minutes on a t3.medium.
READY_TIMEOUT_SECONDS = 30 * 60
READY_SIGNALS = 1

_HEX = re.compile(rf"[0-9a-f]{{{REVISION_CHARS},}}")


def ready_logical_ids(revision: str) -> tuple[str, str]:
    """The (handle, condition) logical IDs for a bundle whose asset hash is `revision`."""
    if not _HEX.fullmatch(revision):
        raise ValueError(
            f"readiness revision: got {revision!r}; expected an asset hash "
            f"(at least {REVISION_CHARS} lower-case hex digits)"
        )
    short = revision[:REVISION_CHARS]
    return f"{READY_HANDLE_LOGICAL_ID_PREFIX}{short}", f"{READY_LOGICAL_ID_PREFIX}{short}"


class Readiness(Construct):
    """The handle exists first, so the instance's user data can carry its URL (`url`);
    `wait_for` adds the condition once the resources it must follow exist.

    `revision` is the bundle asset's hash (`Asset.asset_hash`): known at synth, deterministic,
    and changed by any change of any rendered file.
    """

    def __init__(self, scope: Construct, id_: str, *, revision: str) -> None:
        super().__init__(scope, id_)
        self.handle_logical_id, self.logical_id = ready_logical_ids(revision)
        self.handle = CfnWaitConditionHandle(self, "Handle")
        self.handle.override_logical_id(self.handle_logical_id)
        self.condition: CfnWaitCondition | None = None

    @property
    def url(self) -> str:
        """The presigned URL that provision.sh signals (a token until deploy time)."""
        return self.handle.ref

    def wait_for(self, *resources: CfnResource) -> CfnWaitCondition:
        """Wait for the signal only once `resources` exist (the instance, the /home attachment):
        the timeout starts then, and provisioning can count on them. In an update that changes
        the bundle, that is once the instance has been stopped and started with the new user
        data."""
        self.condition = CfnWaitCondition(
            self,
            "Condition",
            handle=self.handle.ref,
            count=READY_SIGNALS,
            timeout=str(READY_TIMEOUT_SECONDS),
        )
        self.condition.override_logical_id(self.logical_id)
        for resource in resources:
            self.condition.add_resource_dependency(resource)
        return self.condition
