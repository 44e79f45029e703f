"""The identity step, run for real in provision.sh's sandbox (tests/unit/provision_sandbox.py):
the real identity.sh with the sandbox's EC2 (the `aws` stub) and instance metadata (`curl`).

Proven here: the takeover's order (stop the old instance, wait, detach, attach here, wait, take
the address) and that it happens after the install phase and before /home is mounted; that with
everything in place no AWS call is made; that a failure after the takeover hands everything back
(services stopped, /home unmounted, volume and address to the old instance, which is started) before
the failure is signalled, and never takes over again; that a failure before it touches nothing; and
the refusals (another stack's instance, another zone). tests/aws/ runs the same script against the
emulator's EC2, which enforces EC2's own rules.
"""

from __future__ import annotations

import pytest

from tests.unit.provision_sandbox import (
    ADDRESS_ID,
    INSTANCE_ID,
    OLD_INSTANCE_ID,
    VOLUME_ID,
    Run,
    Sandbox,
)
from workbench.config import WorkbenchConfig
from workbench.provisioning import needed_install_steps

DEFAULT = WorkbenchConfig()


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    sandbox = Sandbox(tmp_path)
    sandbox.render(DEFAULT)
    return sandbox


def ec2_calls(run: Run) -> list[str]:
    """The EC2 operations made, with their main argument, in order."""
    calls = []
    for call in run.called("aws", "ec2"):
        args = call[4:]  # aws ec2 --region R OPERATION ...
        operation = args[0] if args[0] != "wait" else f"wait {args[1]}"
        target = next((a for a in args if a.startswith(("i-", "vol-", "eipalloc-"))), "")
        calls.append(f"{operation} {target}".strip())
    return calls


TAKEOVER = [
    f"describe-volumes {VOLUME_ID}",
    f"describe-instances {OLD_INSTANCE_ID}",
    f"stop-instances {OLD_INSTANCE_ID}",
    f"wait instance-stopped {OLD_INSTANCE_ID}",
    f"detach-volume {VOLUME_ID}",
    f"wait volume-available {VOLUME_ID}",
    f"attach-volume {VOLUME_ID}",
    f"wait volume-in-use {VOLUME_ID}",
    f"describe-addresses {ADDRESS_ID}",
    f"associate-address {ADDRESS_ID}",
]


@pytest.fixture(scope="module")
def replaced(tmp_path_factory) -> tuple[Sandbox, Run, Run]:
    """A replacement's first run, then the next run on the same instance (shared: read only)."""
    sandbox = Sandbox(tmp_path_factory.mktemp("replaced"))
    sandbox.render(DEFAULT)
    sandbox.replacing()
    return sandbox, sandbox.run(), sandbox.run()


@pytest.fixture(scope="module")
def handed_back(tmp_path_factory) -> tuple[Sandbox, Run, Run]:
    """A replacement failing after the takeover, then a later run on it (shared: read only)."""
    sandbox = Sandbox(tmp_path_factory.mktemp("handed-back"))
    sandbox.render(DEFAULT)
    sandbox.replacing()
    failed = sandbox.run(STUB_FAIL_NGINX="1")
    return sandbox, failed, sandbox.run()


def test_a_replacement_takes_the_volume_and_address_over_from_the_old_instance(replaced):
    sandbox, run, _ = replaced
    assert run.returncode == 0, run.output
    assert ec2_calls(run) == TAKEOVER
    attach = run.called("aws", "ec2")[6]
    assert attach[-4:] == ["--instance-id", INSTANCE_ID, "--device", "/dev/sdf"]
    associate = run.called("aws", "ec2")[9]
    assert associate[-3:] == ["--instance-id", INSTANCE_ID, "--allow-reassociation"]
    assert sandbox.ec2() == {
        "volume": ("in-use", INSTANCE_ID),
        "address": INSTANCE_ID,
        "instances": {INSTANCE_ID: "running", OLD_INSTANCE_ID: "stopped"},
    }
    # After the install phase (the old instance served meanwhile), before /home is mounted.
    steps = run.steps()
    assert steps.index("identity") == len(needed_install_steps(DEFAULT)) + 1
    assert steps.index("home") == steps.index("identity") + 1
    assert f"[identity] done; changed: stopped {OLD_INSTANCE_ID}" in run.log
    assert run.statuses() == [("SUCCESS", "workbench-ready")]
    assert not (sandbox.root / "var/lib/workbench/takeover").exists(), "settled: final"


def test_with_everything_in_place_no_aws_call_is_made(replaced):
    # Every run after the takeover (a reboot, a start, an in-place update) only looks locally.
    _, _, run = replaced
    assert run.returncode == 0, run.output
    assert run.called("aws", "ec2") == []
    assert "[identity] done; nothing to change" in run.log


def test_a_failure_after_the_takeover_hands_everything_back_before_it_reports(handed_back):
    sandbox, run, _ = handed_back
    assert run.returncode != 0
    assert run.statuses() == [("FAILURE", "step-nginx-failed")], "the failed step, as always"
    assert ec2_calls(run) == [
        *TAKEOVER,
        f"describe-volumes {VOLUME_ID}",
        f"detach-volume {VOLUME_ID}",
        f"wait volume-available {VOLUME_ID}",
        f"attach-volume {VOLUME_ID}",
        f"wait volume-in-use {VOLUME_ID}",
        f"associate-address {ADDRESS_ID}",
        f"start-instances {OLD_INSTANCE_ID}",
    ]
    # The services that use /home stopped, then /home unmounted, all before the signal.
    stops = [c[-1] for c in run.called("systemctl", "stop")]
    assert stops == ["jupyterhub", "rstudio-server"]
    order = [tuple(c[:2]) for c in run.calls]
    assert order.index(("systemctl", "stop")) < order.index(("umount", str(sandbox.root / "home")))
    last_ec2 = max(i for i, c in enumerate(run.calls) if c[:2] == ["aws", "ec2"])
    signal = max(i for i, c in enumerate(run.calls) if c[0] == "curl" and "PUT" in c)
    assert last_ec2 < signal, "handed back before CloudFormation hears of the failure"
    assert "started i-0fedcba9876543210: the old workbench serves again" in run.log


def test_an_instance_that_handed_back_never_takes_over_again(handed_back):
    sandbox, _, run = handed_back  # the association's run, or a reboot, after the handback
    assert run.statuses() == [("FAILURE", "step-identity-failed")]
    assert not [c for c in ec2_calls(run) if c.startswith(("stop", "detach", "attach"))]
    assert "not taking them over again" in run.output
    # What the first run handed back is as it left it: the old instance's, running.
    assert sandbox.ec2() == {
        "volume": ("in-use", OLD_INSTANCE_ID),
        "address": OLD_INSTANCE_ID,
        "instances": {INSTANCE_ID: "running", OLD_INSTANCE_ID: "running"},
    }
    assert sandbox.mounts() == []


def test_a_failure_before_the_takeover_touches_nothing(sandbox):
    sandbox.replacing()
    run = sandbox.run(STUB_FAIL_APT="1")
    assert run.statuses() == [("FAILURE", "step-packages-failed")]
    assert run.called("aws", "ec2") == []
    assert sandbox.ec2()["instances"][OLD_INSTANCE_ID] == "running", "the old one still serves"


def test_a_failed_attach_with_no_old_instance_hands_nothing_back(sandbox):
    # A free volume that EC2 will not attach (the first boot, or a volume replaced under a
    # running workbench): no other instance to give anything to, so nothing is stopped or undone.
    sandbox.set_volume("available", None)
    run = sandbox.run(STUB_FAIL_EC2="attach-volume")
    assert run.statuses() == [("FAILURE", "step-identity-failed")]
    assert not run.called("systemctl", "stop") and not run.called("umount")
    assert "no other instance took part: nothing to hand back" in run.log


def test_an_old_instance_stopped_by_the_idle_stop_stays_stopped(sandbox):
    sandbox.replacing(old_state="stopped")
    run = sandbox.run(STUB_FAIL_NGINX="1")
    assert "stop-instances" not in " ".join(ec2_calls(run))
    assert "start-instances" not in " ".join(ec2_calls(run)), "handed back, not started"
    assert sandbox.ec2()["volume"] == ("in-use", OLD_INSTANCE_ID)


def test_a_stack_deployed_with_the_old_attachment_only_takes_the_address(sandbox):
    # The retained AWS::EC2::VolumeAttachment of an older version of this stack: the volume is
    # attached to the current instance already; the Elastic IP is new.
    sandbox.set_address(None)
    run = sandbox.run()
    assert run.returncode == 0, run.output
    assert ec2_calls(run) == [
        f"describe-volumes {VOLUME_ID}",
        f"describe-addresses {ADDRESS_ID}",
        f"associate-address {ADDRESS_ID}",
    ]
    assert sandbox.ec2()["address"] == INSTANCE_ID


def test_a_volume_held_by_another_stacks_instance_is_refused(sandbox):
    sandbox.replacing()
    sandbox.set_instance(OLD_INSTANCE_ID, "running", stack="SomeoneElse")
    run = sandbox.run()
    assert run.statuses() == [("FAILURE", "step-identity-failed")]
    assert "which is not an instance of stack Workbench; not taking it" in run.output
    assert sandbox.ec2()["instances"][OLD_INSTANCE_ID] == "running"


def test_a_volume_in_another_zone_is_refused_with_the_way_out(sandbox):
    sandbox.set_volume("available", None, zone="us-east-1b")
    run = sandbox.run()
    assert run.statuses() == [("FAILURE", "step-identity-failed")]
    assert "is in us-east-1b, this instance in us-east-1a" in run.output
    assert "restore /home from a snapshot" in run.output
