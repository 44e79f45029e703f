"""The AWS emulator of the tests and `make local`: moto, plus what it lacks before it can create
and update the workbench stack.

moto has no Canonical public parameters and refuses put_parameter under /aws/*, and CDK's
templates check the bootstrap version parameter; both are put into moto's SSM backend directly
(`seed_ssm`). The CloudFormation models moto lacks, or models too loosely, live in `models/`, one
small class per AWS type; `cloudformation.py` updates stacks in CloudFormation's order (moto's own
update does not replace anything), `ec2.py` enforces EC2's rules that moto lacks (a volume in use
cannot be attached) and keeps a journal of what EC2 was asked. `agent.py` is what "boots" on an
emulated instance (nothing, unless a test registers an agent), `imds.py` its metadata service and
`signals.py` the wait condition handles' endpoint. `register_missing_models` installs them all.
"""

from __future__ import annotations

from workbench.config import UBUNTU_AMI_PARAMETERS
from workbench.local.emulator.parameters import ssm_parameter

REGION = "us-east-1"
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
BOOTSTRAP_VERSION = "30"


def seed_ssm(
    ami_id: str, *, region: str = REGION, account: str | None = None, bootstrapped: bool = True
) -> None:
    """Make the Ubuntu AMI parameters point at `ami_id`.

    `bootstrapped=True` also sets the CDK bootstrap version, for deploying a template without
    `cdk bootstrap` (the tests); the real `cdk bootstrap` creates it itself (local mode).
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ssm.models import ssm_backends

    account = account or DEFAULT_ACCOUNT_ID
    store = ssm_backends[account][region]._parameters
    values = {name: (ami_id, "aws:ec2:image") for name in UBUNTU_AMI_PARAMETERS.values()}
    if bootstrapped and not store.get(BOOTSTRAP_VERSION_PARAMETER):
        values[BOOTSTRAP_VERSION_PARAMETER] = (BOOTSTRAP_VERSION, "text")
    for name, (value, data_type) in values.items():
        store[name] = [ssm_parameter(account, name, value, "String", data_type)]


def images(count: int = 1, *, region: str = REGION, account: str | None = None) -> list[str]:
    """IDs of `count` distinct images moto's EC2 knows (Amazon's, which it loads by default).

    Read from moto's backend in this process (in-process mocks and the embedded server alike):
    `describe_images(Owners=["amazon"])` would serialize its whole catalogue, about a second per
    call."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    found = list(ec2_backends[account or DEFAULT_ACCOUNT_ID][region].amis)[:count]
    if len(found) < count:
        raise LookupError(f"moto knows {len(found)} images; {count} asked for")
    return found


_registered: list[bool] = []


def register_missing_models() -> None:
    """Teach moto's CloudFormation the resource types the workbench uses and moto lacks (see
    `models/`: each module says what moto does without it), CloudFormation's update order and
    EC2's rules. Safe to call more than once."""
    from moto.cloudformation import parsing

    from workbench.local.emulator import cloudformation, ec2
    from workbench.local.emulator.models.wait_condition import (
        WAIT_CONDITION_TYPE,
        WAIT_HANDLE_TYPE,
    )

    if _registered:
        return
    import workbench.local.emulator.models  # noqa: F401 (defining the models registers them)

    cloudformation.install()
    ec2.install()

    # moto consults its null-model list before any registered model.
    for type_ in (WAIT_HANDLE_TYPE, WAIT_CONDITION_TYPE):
        if type_ in parsing.NULL_MODELS:
            parsing.NULL_MODELS.remove(type_)
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    _registered.append(True)
