"""Policies for the second deploy: what a change does to the instance, and that `cdk deploy` waits
for the instance that applies it.

- A change of the bundle alone (a value such as `penguin_api_public`, a new pin) leaves the
  instance's properties, user data included, exactly as they were: CloudFormation neither stops
  nor replaces it. The deployment parameter and the association change, and State Manager
  re-runs provisioning on the running instance.
- A change that replaces or restarts the instance (`root_volume_gb`, `ami_id`, ...) changes the
  readiness revision although the bundle is the same: the deploy waits for the new instance.
- The readiness resources carry the revision in their logical IDs, so each such deploy gets new
  ones; nothing else changes its ID.
- cloud-init runs the user data at every boot (its cloud-config part says so): the bootstrap
  provisions after a stop and start, a recovery, a reboot.
"""

from __future__ import annotations

import pytest
import yaml
from aws_cdk import App, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2

from stacks.address import ADDRESS_LOGICAL_ID
from stacks.deployment import ASSOCIATION_LOGICAL_ID
from stacks.network import SECURITY_GROUP_LOGICAL_ID
from stacks.readiness import (
    READY_HANDLE_LOGICAL_ID_PREFIX,
    READY_LOGICAL_ID_PREFIX,
    REVISION_CHARS,
    ready_logical_ids,
    revision,
)
from stacks.server import INSTANCE_LOGICAL_ID
from stacks.storage import HOME_VOLUME_LOGICAL_ID
from tests.stack.template import bundle_key, deployment_record, readiness_ids, revision_of
from tests.stack.user_data import mime_parts, user_data_document

EC2_USER_DATA_LIMIT = 16 * 1024
STATEFUL = (
    INSTANCE_LOGICAL_ID,
    SECURITY_GROUP_LOGICAL_ID,
    HOME_VOLUME_LOGICAL_ID,
    ADDRESS_LOGICAL_ID,
)


def test_user_data_is_a_multipart_document_cloud_init_recognises(synthesized):
    _, template = synthesized("default")
    document = user_data_document(template)
    # cloud-init treats user data as MIME only if a MIME-Version header is in its first 4 KiB.
    assert "mime-version:" in document[:4096].lower()
    parts = mime_parts(document)
    assert [content_type for content_type, _ in parts] == [
        "text/cloud-config",
        "text/x-shellscript",
    ], "a cloud-config part, then the script that installs and runs the bootstrap"
    assert document.isascii(), "both parts are declared us-ascii"
    assert len(document.encode()) < EC2_USER_DATA_LIMIT * 3 / 4, "room under EC2's 16 KB"


def test_the_bootstrap_runs_on_every_boot(synthesized):
    _, template = synthesized("default")
    (_, cloud_config), _ = mime_parts(user_data_document(template))
    assert cloud_config.startswith("#cloud-config\n")
    modules = yaml.safe_load(cloud_config)["cloud_final_modules"]
    assert ["scripts-user", "always"] in modules, (
        "scripts-user must run always: after a stop and start, a recovery or a reboot, "
        "cloud-init would otherwise skip the bootstrap (once per instance)"
    )
    names = [m[0] if isinstance(m, list) else m for m in modules]
    assert names.count("scripts-user") == 1, "listed twice, the bootstrap would run twice a boot"
    # The list replaces the image's: what acts without configuration stays.
    for kept in ("scripts-per-boot", "keys-to-console", "final-message"):
        assert kept in names, kept


def test_the_script_part_installs_the_bootstrap_and_runs_it(synthesized):
    _, template = synthesized("default")
    _, (_, script) = mime_parts(user_data_document(template))
    assert script.startswith("#!/bin/bash\n")
    assert "aws ssm get-parameter" in script and "aws s3 cp" in script
    assert script.rstrip().endswith('exec "$BOOTSTRAP" boot')


def test_readiness_ids_carry_the_revision(synthesized):
    _, template = synthesized("default")
    current = revision_of(template)
    handle, condition = readiness_ids(template)
    assert (handle, condition) == ready_logical_ids(current)
    assert handle == f"{READY_HANDLE_LOGICAL_ID_PREFIX}{current[:REVISION_CHARS]}"
    assert condition == f"{READY_LOGICAL_ID_PREFIX}{current[:REVISION_CHARS]}"
    # The instance signals the handle named in the deployment it applies.
    assert {"Ref": handle} in deployment_record(template)


def test_a_bundle_only_change_leaves_the_instance_alone_and_waits_for_its_new_run(synthesized):
    _, first = synthesized("default")
    # The model API becomes public: nginx.conf, the landing page, the API's unit.
    _, then = synthesized("api")
    assert bundle_key(then) != bundle_key(first), "a public API changes the rendered bundle"
    # Not one property of the instance changes, user data included: no stop, no replacement.
    for name in (INSTANCE_LOGICAL_ID, HOME_VOLUME_LOGICAL_ID, ADDRESS_LOGICAL_ID):
        assert then["Resources"][name] == first["Resources"][name], name
    # What changes: the record, the association's revision, and so the readiness.
    assert revision_of(then) != revision_of(first)
    old, new = set(readiness_ids(first)), set(readiness_ids(then))
    assert old.isdisjoint(new), "new handle and condition: the deploy waits for the new signal"
    assert set(first["Resources"]) - old == set(then["Resources"]) - new, (
        "only the readiness resources change their IDs"
    )
    _, condition = readiness_ids(then)
    assert set(then["Resources"][condition]["DependsOn"]) == {
        ASSOCIATION_LOGICAL_ID,
        INSTANCE_LOGICAL_ID,
    }, "it waits from the moment the association names the new revision"


def test_a_replacement_with_the_same_bundle_still_waits_for_the_new_instance(synthesized):
    _, first = synthesized("default")
    # A new image: one of the instance's own properties changes (as with `root_volume_gb`, whose
    # block device mapping the revision hashes the same way: see small_stack's test below).
    _, then = synthesized("pinned")
    assert bundle_key(then) == bundle_key(first), "the bundle is the same"
    before = first["Resources"][INSTANCE_LOGICAL_ID]["Properties"]
    after = then["Resources"][INSTANCE_LOGICAL_ID]["Properties"]
    assert before != after
    assert before["UserData"] == after["UserData"]
    assert revision_of(then) != revision_of(first)
    assert set(readiness_ids(then)).isdisjoint(readiness_ids(first))
    for name in STATEFUL:
        assert first["Resources"][name]["Type"] == then["Resources"][name]["Type"], name


def small_stack(*, ingress: int = 22, alarm_threshold: float = 5, image: str = "ami-1") -> str:
    """The revision of a small stack: an instance in a security group, and an alarm."""
    stack = Stack(App(), "Small")
    vpc = ec2.CfnVPC(stack, "Vpc", cidr_block="10.0.0.0/16")
    group = ec2.CfnSecurityGroup(
        stack,
        "Group",
        group_description="g",
        vpc_id=vpc.ref,
        security_group_ingress=[
            ec2.CfnSecurityGroup.IngressProperty(
                ip_protocol="tcp", from_port=ingress, to_port=ingress, cidr_ip="0.0.0.0/0"
            )
        ],
    )
    instance = ec2.CfnInstance(
        stack, "Instance", image_id=image, security_group_ids=[group.attr_group_id]
    )
    cloudwatch.CfnAlarm(
        stack,
        "Alarm",
        comparison_operator="LessThanThreshold",
        evaluation_periods=1,
        threshold=alarm_threshold,
        metric_name="CPUUtilization",
        namespace="AWS/EC2",
        period=300,
        statistic="Average",
        dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name="InstanceId", value=instance.ref)],
    )
    return revision(stack, seeds=[instance])


def test_the_revision_follows_the_instance_and_what_it_refers_to_only():
    base = small_stack()
    assert small_stack() == base, "deterministic"
    assert small_stack(image="ami-2") != base, "an instance property"
    assert small_stack(ingress=80) != base, "a resource the instance refers to"
    assert small_stack(alarm_threshold=9) == base, "a resource that refers to the instance"


@pytest.mark.parametrize("value", ["", "48d405f", "48D405FA", "not-a-hash", "48d405fa.zip"])
def test_a_revision_that_is_not_a_hash_is_refused(value):
    with pytest.raises(ValueError) as raised:
        ready_logical_ids(value)
    assert str(raised.value) == (
        f"readiness revision: got {value!r}; expected a hash (at least 8 lower-case hex digits)"
    )
