"""One call acknowledges a policy finding for every checker that reports it, with one reason.

cdk-nag (run by every synth through `Validations`) reads acknowledgments from the construct tree.
checkov reads the synthesized template: a resource's `Metadata.checkov.skip` list of
`{id, comment}` (checkov's documented suppression for CloudFormation), which it reports as a
skipped check with that comment. Both come from the same `acknowledge(...)` call on the construct,
so a reviewer reads the reason once, beside the resource it excuses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Acknowledgment, CfnResource, DefaultStackSynthesizer, Validations
from constructs import IConstruct

# A reason a reviewer can judge names the design decision, not just the rule.
MIN_REASON_CHARS = 60
CHECKOV_METADATA = "checkov"


# The bootstrapped asset bucket's name as cdk-nag writes evidence: the default synthesizer's
# pattern with its qualifier, ${AWS::AccountId} as <AWS::AccountId>.
_ASSET_BUCKET = re.sub(
    r"\$\{([^}]+)\}",
    r"<\1>",
    DefaultStackSynthesizer.DEFAULT_FILE_ASSETS_BUCKET_NAME.replace(
        "${Qualifier}", DefaultStackSynthesizer.DEFAULT_QUALIFIER
    ),
)
# What Asset.grant_read gives a role (read of the CDK asset bucket), as cdk-nag's IAM5 evidence.
ASSET_READ_FINDINGS = tuple(
    f"AwsSolutions::AwsSolutions-IAM5[{evidence}]"
    for evidence in (
        "Action::s3:GetObject*",
        "Action::s3:GetBucket*",
        "Action::s3:List*",
        f"Resource::arn:<AWS::Partition>:s3:::{_ASSET_BUCKET}/*",
    )
)


def managed_policy_finding(name: str) -> str:
    """cdk-nag's IAM4 finding for the AWS managed policy `name`."""
    return f"AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]"


class AcknowledgeError(ValueError):
    """An acknowledgment that a reviewer could not judge; one line."""


def acknowledge(
    scope: IConstruct,
    *,
    reason: str,
    nag: Sequence[str] = (),
    checkov: Sequence[str] = (),
) -> None:
    """Acknowledge synth-time findings (`nag`: cdk-nag's rule IDs, granular ones with their
    evidence, e.g. `AwsSolutions::AwsSolutions-IAM5[Action::s3:List*]`, and CloudFormation
    Validate's, e.g. `CloudFormation-Validate::E1152`) on `scope` and its children, and checkov
    checks (`checkov`: e.g. `CKV_AWS_158`) on the CloudFormation resource of `scope` (itself or
    its default child), all for `reason`."""
    if len(reason.strip()) < MIN_REASON_CHARS:
        raise AcknowledgeError(
            f"reason: got {reason!r}; expected at least {MIN_REASON_CHARS} characters saying why "
            "the finding is acceptable here"
        )
    if not nag and not checkov:
        raise AcknowledgeError("acknowledge: got no finding; expected nag= or checkov= IDs")
    if nag:
        Validations.of(scope).acknowledge(*(_ack(finding, reason) for finding in nag))
    if checkov:
        resource = _resource(scope)
        skips = list((resource.get_metadata(CHECKOV_METADATA) or {}).get("skip", []))
        known = {skip["id"] for skip in skips}
        skips += [{"id": check, "comment": reason} for check in checkov if check not in known]
        resource.add_metadata(CHECKOV_METADATA, {"skip": skips})


def _ack(finding: str, reason: str) -> Acknowledgment:
    return Acknowledgment(id=finding, reason=reason)


def _resource(scope: IConstruct) -> CfnResource:
    node = scope if isinstance(scope, CfnResource) else scope.node.default_child
    if not isinstance(node, CfnResource):
        raise AcknowledgeError(
            f"checkov: got {scope.node.path!r}; expected a CloudFormation resource or a "
            "construct whose default child is one"
        )
    return node
