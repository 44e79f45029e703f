"""EC2's `resolve:ssm:` at launch, which moto lacks: an instance whose ImageId is
`resolve:ssm:<parameter>[:<version>]` launches from the AMI the parameter holds at that moment, as
on AWS ("Launch an instance using a Systems Manager parameter"). moto would keep the string as the
instance's image ID; with this, a workbench with `image=baked` launches from the image stack's
published AMI, and one whose parameter does not exist fails to launch."""

from __future__ import annotations

PREFIX = "resolve:ssm:"
_installed: list[bool] = []


def resolve_image_id(image_id: str, *, account: str, region: str) -> str:
    """The AMI ID `image_id` names: itself, or the value of the SSM parameter it refers to."""
    if not image_id or not image_id.startswith(PREFIX):
        return image_id
    from moto.ec2.exceptions import InvalidParameterValueError
    from moto.ssm.models import ssm_backends

    # `name` or `name:version`, which moto's get_parameter reads as EC2 does.
    parameter = ssm_backends[account][region].get_parameter(image_id.removeprefix(PREFIX))
    if parameter is None:
        raise InvalidParameterValueError(image_id)
    return parameter.value


def install() -> None:
    """Wrap moto's run_instances once (it serves the EC2 API and CloudFormation alike)."""
    if _installed:
        return
    from moto.ec2.models.instances import InstanceBackend

    run_instances = InstanceBackend.run_instances

    def resolving_run_instances(self, image_id, *args, **kwargs):
        image_id = resolve_image_id(image_id, account=self.account_id, region=self.region_name)
        return run_instances(self, image_id, *args, **kwargs)

    InstanceBackend.run_instances = resolving_run_instances
    _installed.append(True)
