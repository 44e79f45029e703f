"""The deployment record: what one deploy tells the instance, kept apart from its user data.

The user data only installs the bootstrap (assets/bootstrap.sh.j2) and names an SSM parameter;
it never changes with the bundle, so a deploy that changes the bundle no longer stops and starts
the instance. The parameter holds this record, which the bootstrap reads when it provisions:

- at the first boot of an instance (`workbench-bootstrap boot`, from the user data);
- at every deploy that changes the revision (`workbench-bootstrap apply REVISION`, run by the
  stack's SSM association, whose command names the revision: CloudFormation updating it makes
  State Manager run it again on the running instance).

The record is the env file provision.sh sources (`/etc/workbench/env`, after the region and the
stack name that the bootstrap knows itself), one `KEY='value'` line per value: single-quoted
because the wait condition's presigned URL holds '&'. The bootstrap refuses any other line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

BOOTSTRAP_PATH = "/usr/local/sbin/workbench-bootstrap"
"""Where the user data installs the bootstrap, for the association to run."""

# Every key of the record, in the order it is written. WORKBENCH_REGION and WORKBENCH_STACK come
# from the bootstrap itself (it needs them to read the parameter).
KEYS = (
    "WORKBENCH_REVISION",  # the readiness revision (stacks/readiness.py) this record belongs to
    "WORKBENCH_BUNDLE",  # s3://bucket/key.zip of the rendered bundle
    "WORKBENCH_READY_URL",  # the wait condition handle's presigned URL
    "WORKBENCH_HOME_VOLUME_ID",  # users' /home volume, which the identity step attaches
    "WORKBENCH_HOME_DEVICE",  # the device name it is attached as
    "WORKBENCH_ADDRESS_ID",  # the Elastic IP's allocation ID, which the identity step associates
    "WORKBENCH_PUBLIC_IP",  # ... and its address (for the outputs, NGINX, certificates)
)
LINE = re.compile(r"^WORKBENCH_[A-Z_]+='[^'\n]*'$")
"""What the bootstrap accepts from the parameter (the same rule, as a grep, in bash)."""


def parameter_name(stack_name: str) -> str:
    """The deployment parameter of a stack: a fixed name, so the user data can name it as text."""
    return f"/workbench/{stack_name}/deployment"


def record(values: Mapping[str, str]) -> str:
    """The parameter's value: every key of KEYS, in order, as `KEY='value'` lines.

    Values may be CDK tokens (strings that stand for a Ref); a literal value must not hold a
    quote or a newline.
    """
    missing = [key for key in KEYS if key not in values]
    unknown = sorted(set(values) - set(KEYS))
    if missing or unknown:
        raise ValueError(f"deployment record: missing {missing}, unknown {unknown}")
    lines = [f"{key}='{values[key]}'" for key in KEYS]
    for line in lines:
        if "${Token[" not in line and not LINE.fullmatch(line):
            raise ValueError(f"deployment record: {line!r} is not KEY='value' without quotes")
    return "".join(line + "\n" for line in lines)


def association_command(revision: str) -> str:
    """The shell command the association runs on the instance (AWS-RunShellScript, /bin/sh).

    A new instance may receive it before cloud-init has run the user data that installs the
    bootstrap: it waits for it (up to 10 minutes) rather than fail. The bootstrap logs to
    /var/log/workbench/bootstrap.log.
    """
    return (
        f"for i in $(seq 1 120); do [ -x {BOOTSTRAP_PATH} ] && break; sleep 5; done; "
        f"exec {BOOTSTRAP_PATH} apply {revision}"
    )
