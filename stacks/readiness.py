"""Deploy readiness: `cdk deploy` succeeds only once provision.sh reports the workbench answers.

A wait condition rather than the instance's CreationPolicy: the instance completes as soon as it
runs, the SSM association that applies deployments in place follows, and the wait condition,
which depends on both, holds the deploy until provision.sh PUTs its result to the handle's
presigned URL (no IAM permission needed, and no AWS CLI: curl is enough).

CloudFormation never updates a wait condition (it has no updatable properties) and warns never to
reuse a handle in an update, since a new condition could count the old signals stored on it. So
the handle and the condition carry a revision in their logical IDs, and a deploy that changes the
revision replaces both and waits for the new handle's signal, which only an instance that applied
the new deployment (whose record names the new URL) can send.

The revision (`revision()`) is a hash of everything the instance runs from: its deployment
record (which names the bundle by its content hash), and the template properties of the instance
and of every resource it, or its deployment record, refers to (image, type, key pair, root
volume, user data, launch template, subnet, security group, role, the /home volume, the address,
the secret). So a deploy that replaces or restarts the instance
waits for the new (or restarted) instance too, not only one that changes the bundle; the
association's command names the revision, so every such deploy also runs it. A change that
touches none of them (an alarm, a policy) keeps the revision, and the deploy does not wait.
Both readiness resources are stateless, so a changing ID costs nothing; the stateful resources
keep theirs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable

from aws_cdk import CfnResource, CfnWaitCondition, CfnWaitConditionHandle, Stack
from constructs import Construct

from workbench.image import PROVISION_TIMEOUT_SECONDS

# Logical IDs: these prefixes followed by the revision's first REVISION_CHARS hex digits.
READY_HANDLE_LOGICAL_ID_PREFIX = "WorkbenchReadyHandle"
READY_LOGICAL_ID_PREFIX = "WorkbenchReady"
# 32 bits: the chance that a changed bundle keeps its IDs (and so does not wait) is 1 in 4 billion.
REVISION_CHARS = 8
# From the instance running to its bootstrap: cloud-init runs the user data, and the
# association's command waits as long for the bootstrap to be installed (workbench/deployment.py).
BOOTSTRAP_ALLOWANCE_SECONDS = 10 * 60
# Then one provisioning run (workbench/image.py) before the deploy gives up on the signal.
READY_TIMEOUT_SECONDS = BOOTSTRAP_ALLOWANCE_SECONDS + PROVISION_TIMEOUT_SECONDS
READY_SIGNALS = 1

_HEX = re.compile(rf"[0-9a-f]{{{REVISION_CHARS},}}")


def ready_logical_ids(revision: str) -> tuple[str, str]:
    """The (handle, condition) logical IDs for `revision` (hex, as `revision()` makes it)."""
    if not _HEX.fullmatch(revision):
        raise ValueError(
            f"readiness revision: got {revision!r}; expected a hash "
            f"(at least {REVISION_CHARS} lower-case hex digits)"
        )
    short = revision[:REVISION_CHARS]
    return f"{READY_HANDLE_LOGICAL_ID_PREFIX}{short}", f"{READY_LOGICAL_ID_PREFIX}{short}"


def _references(value: object) -> Iterable[str]:
    """Logical IDs that a resolved CloudFormation value refers to (Ref, Fn::GetAtt)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                yield inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
            else:
                yield from _references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner)


def revision(stack: Stack, *, seeds: Iterable[CfnResource], values: object = None) -> str:
    """sha256 over `values` (the deployment record's values: WORKBENCH_BUNDLE's object key is the
    bundle's content hash) and the type and properties of `seeds`, and of every resource they or
    `values` refer to, transitively, as the template will hold them.

    Call it once the seeds are complete (every property set) and before anything in them refers
    to the readiness resources: their IDs come from this value.
    """
    by_id = {
        stack.resolve(child.logical_id): child
        for child in stack.node.find_all()
        if isinstance(child, CfnResource)
    }
    resolved_values = stack.resolve(values)
    resources: dict[str, dict] = {}
    todo = [stack.resolve(seed.logical_id) for seed in seeds]
    todo.extend(_references(resolved_values))
    while todo:
        logical_id = todo.pop()
        resource = by_id.get(logical_id)
        if logical_id in resources or resource is None:
            continue  # a pseudo parameter (AWS::Region) or a template parameter
        # CfnResource's renderer (jsii exposes the protected members): the properties as the
        # template will hold them, tokens resolved to Ref / Fn::GetAtt.
        properties = stack.resolve(
            resource._render_properties(stack.resolve(resource._cfn_properties))
        )
        resources[logical_id] = {"Type": resource.cfn_resource_type, "Properties": properties}
        todo.extend(_references(properties))
    text = json.dumps(
        {"values": resolved_values, "resources": resources},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


class Readiness(Construct):
    """The handle exists first, so the instance's user data can carry its URL (`url`);
    `wait_for` adds the condition once the resources it must follow exist.

    `revision` comes from `revision()`: known at synth, deterministic, and changed by any change
    of the bundle or of what the instance runs from.
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
        """Wait for the signal only once `resources` exist (the instance, the association): the
        timeout starts then. In an update, that is once the association names the new revision
        (and the replacement instance, if there is one, runs)."""
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
