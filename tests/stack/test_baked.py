"""Policies on `image=baked`: the workbench launches from the image stack's published parameter,
resolved by EC2 at each launch (never by CloudFormation at deploy), and its bootstrap runs the
configure phase alone."""

from __future__ import annotations

from stacks.server import INSTANCE_LOGICAL_ID
from tests.stack.user_data import user_data_script
from workbench.config import UBUNTU_AMI_PARAMETERS
from workbench.image import published_parameter

PROVISION = '"$BUNDLE_DIR/provision.sh"'


def image_id(template: dict):
    return template["Resources"][INSTANCE_LOGICAL_ID]["Properties"]["ImageId"]


def test_a_baked_workbench_resolves_the_published_parameter_at_launch(synthesized):
    config, template = synthesized("baked")
    assert image_id(template) == f"resolve:ssm:{published_parameter(config)}"
    # Only the parameter's name: CloudFormation never reads its value, so publishing a new image
    # changes no deploy (no replacement), and every launch takes the newest.
    assert not any(name in str(template) for name in UBUNTU_AMI_PARAMETERS.values())
    parameters = template.get("Parameters", {}).values()
    assert not [p for p in parameters if "AWS::EC2::Image::Id" in p["Type"]]


def test_a_baked_workbench_runs_the_configure_phase_alone(synthesized):
    _, template = synthesized("baked")
    script = user_data_script(template)
    assert f"{PROVISION} configure || status=$?" in script
    assert f"{PROVISION} || status=$?" not in script


def test_a_stock_workbench_runs_every_phase_on_canonicals_image(synthesized):
    config, template = synthesized("default")
    assert config.image == "stock"
    assert image_id(template) == f"resolve:ssm:{UBUNTU_AMI_PARAMETERS[config.ubuntu_release]}"
    script = user_data_script(template)
    assert f"{PROVISION} || status=$?" in script
    assert "configure" not in script
