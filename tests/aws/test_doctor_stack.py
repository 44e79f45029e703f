"""The doctor finds its target in the stack's CloudFormation outputs (moto plays AWS)."""

from __future__ import annotations

import boto3
import pytest

from tests.aws.deployment import deploy
from workbench import doctor
from workbench.config import WorkbenchConfig
from workbench.local.emulator import REGION


def test_target_comes_from_the_stack_outputs(synthesized):
    outputs = deploy(synthesized("default")[1])["outputs"]
    cfn = boto3.client("cloudformation", region_name=REGION)
    target = doctor.target_from_stack("Workbench", WorkbenchConfig(), client=cfn)
    assert target.base == outputs["LandingUrl"].rstrip("/")
    assert target.ssh is True, "port 22 is open by default, so the doctor checks it"
    assert target.security_group == outputs["SecurityGroupId"]
    assert target.tunnels["jupyterhub"] == outputs["JupyterhubTunnel"]
    assert target.tunnels["api"] == outputs["ApiTunnel"]


def test_closed_ssh_is_not_checked(synthesized):
    deploy(synthesized("closed")[1])
    cfn = boto3.client("cloudformation", region_name=REGION)
    target = doctor.target_from_stack("Workbench", WorkbenchConfig(ssh_cidr=None), client=cfn)
    assert target.ssh is False
    assert "AWS-StartPortForwardingSession" in target.tunnels["rstudio"]


def test_unknown_stack_is_one_line_and_exit_2(capsys):
    code = doctor.main(["--stack", "Nope", "--region", REGION], config=WorkbenchConfig())
    assert code == 2
    err = capsys.readouterr().err
    assert (
        err
        == "error: --stack: got 'Nope'; CloudFormation says: Stack with id Nope does not exist\n"
    )


def test_a_stack_that_is_not_a_workbench_is_refused():
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(
        StackName="Other",
        TemplateBody='{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}',
    )
    with pytest.raises(doctor.DoctorError, match="it has no LandingUrl output"):
        doctor.target_from_stack("Other", WorkbenchConfig(), client=cfn)
