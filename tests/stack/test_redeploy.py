"""Policies for the second deploy: a deploy that changes the bundle reaches the running instance,
and `cdk deploy` waits until the instance has applied it.

CloudFormation applies a changed UserData with a stop and start of the same instance, and cloud-init
runs user-data scripts once per instance unless told otherwise: the user data says so in a
cloud-config part. A wait condition is never updated: the readiness resources carry the bundle's
hash in their logical IDs, so a changed bundle brings new ones that wait for the new signal.
"""

from __future__ import annotations

import re

import pytest
import yaml

from stacks.network import SECURITY_GROUP_LOGICAL_ID
from stacks.readiness import (
    READY_HANDLE_LOGICAL_ID_PREFIX,
    READY_LOGICAL_ID_PREFIX,
    REVISION_CHARS,
    ready_logical_ids,
)
from stacks.server import INSTANCE_LOGICAL_ID
from stacks.storage import HOME_ATTACHMENT_LOGICAL_ID, HOME_VOLUME_LOGICAL_ID
from tests.stack.user_data import mime_parts, user_data_document
from tests.synth import synth

EC2_USER_DATA_LIMIT = 16 * 1024
STATEFUL = (
    INSTANCE_LOGICAL_ID,
    SECURITY_GROUP_LOGICAL_ID,
    HOME_VOLUME_LOGICAL_ID,
    HOME_ATTACHMENT_LOGICAL_ID,
)
BUNDLE_KEY = re.compile(r"\nWORKBENCH_BUNDLE=s3://\S+/([0-9a-f]{64})\.zip\n")


@pytest.fixture(scope="module")
def second(tmp_path_factory):
    """`second(name)`: the template of a second deploy; "api" changes the bundle (the model API
    becomes public: nginx.conf, the landing page, the API's unit), "disk" does not (the root volume
    grows, which only the instance's block devices show)."""
    contexts = {"api": {"penguin_api_public": True}, "disk": {"root_volume_gb": 40}}
    cache: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in cache:
            cache[name] = synth(tmp_path_factory.mktemp(name), **contexts[name])[1]
        return cache[name]

    return get


def readiness_ids(template: dict) -> tuple[str, str]:
    """The logical IDs of the (one) wait condition handle and the (one) wait condition."""

    def only(type_: str) -> str:
        (name,) = [n for n, r in template["Resources"].items() if r["Type"] == type_]
        return name

    return (
        only("AWS::CloudFormation::WaitConditionHandle"),
        only("AWS::CloudFormation::WaitCondition"),
    )


def bundle_key(template: dict) -> str:
    (key,) = BUNDLE_KEY.findall(user_data_document(template))
    return key


def test_user_data_is_a_multipart_document_cloud_init_recognises(synthesized):
    _, template = synthesized("default")
    document = user_data_document(template)
    # cloud-init treats user data as MIME only if a MIME-Version header is in its first 4 KiB.
    assert "mime-version:" in document[:4096].lower()
    parts = mime_parts(document)
    assert [content_type for content_type, _ in parts] == [
        "text/cloud-config",
        "text/x-shellscript",
    ], "a cloud-config part, then the bootstrap script"
    assert document.isascii(), "both parts are declared us-ascii"
    assert len(document.encode()) < EC2_USER_DATA_LIMIT / 3, "far under EC2's 16 KB"


def test_the_bootstrap_runs_on_every_boot(synthesized):
    _, template = synthesized("default")
    (_, cloud_config), _ = mime_parts(user_data_document(template))
    assert cloud_config.startswith("#cloud-config\n")
    modules = yaml.safe_load(cloud_config)["cloud_final_modules"]
    assert ["scripts-user", "always"] in modules, (
        "scripts-user must run always: after the stop and start that applies a changed UserData, "
        "cloud-init would otherwise skip the new bootstrap (once per instance)"
    )
    names = [m[0] if isinstance(m, list) else m for m in modules]
    assert names.count("scripts-user") == 1, "listed twice, the bootstrap would run twice a boot"
    # The list replaces the image's: what acts without configuration stays.
    for kept in ("scripts-per-boot", "keys-to-console", "final-message"):
        assert kept in names, kept


def test_the_script_part_is_the_bootstrap(synthesized):
    _, template = synthesized("default")
    _, (_, script) = mime_parts(user_data_document(template))
    assert script.startswith("#!/bin/bash\n")
    assert "aws s3 cp" in script
    assert script.rstrip().endswith("exec /opt/workbench/provision.sh")


def test_readiness_ids_carry_the_bundle_hash(synthesized):
    _, template = synthesized("default")
    key = bundle_key(template)
    handle, condition = readiness_ids(template)
    assert (handle, condition) == ready_logical_ids(key)
    assert handle == f"{READY_HANDLE_LOGICAL_ID_PREFIX}{key[:REVISION_CHARS]}"
    assert condition == f"{READY_LOGICAL_ID_PREFIX}{key[:REVISION_CHARS]}"
    # The instance signals the handle of the bundle it downloads.
    parts = template["Resources"][INSTANCE_LOGICAL_ID]["Properties"]["UserData"]["Fn::Base64"]
    assert {"Ref": handle} in parts["Fn::Join"][1]


def test_a_changed_bundle_brings_new_readiness_and_keeps_every_other_id(synthesized, second):
    _, first = synthesized("default")
    then = second("api")
    assert bundle_key(then) != bundle_key(first), "a public API changes the rendered bundle"
    old, new = set(readiness_ids(first)), set(readiness_ids(then))
    assert old.isdisjoint(new), "new handle and condition: the deploy waits for the new signal"
    assert set(first["Resources"]) - old == set(then["Resources"]) - new, (
        "only the readiness resources change their IDs"
    )
    for name in STATEFUL:
        assert first["Resources"][name]["Type"] == then["Resources"][name]["Type"], name
    _, condition = readiness_ids(then)
    assert set(then["Resources"][condition]["DependsOn"]) == {
        HOME_ATTACHMENT_LOGICAL_ID,
        INSTANCE_LOGICAL_ID,
    }, "it waits from the moment the instance runs again with the new user data"


def test_an_unchanged_bundle_keeps_the_readiness_ids(synthesized, second):
    _, first = synthesized("default")
    then = second("disk")
    assert then["Resources"][INSTANCE_LOGICAL_ID] != first["Resources"][INSTANCE_LOGICAL_ID]
    assert bundle_key(then) == bundle_key(first)
    assert readiness_ids(then) == readiness_ids(first)
    assert set(then["Resources"]) == set(first["Resources"])


@pytest.mark.parametrize("revision", ["", "48d405f", "48D405FA", "not-a-hash", "48d405fa.zip"])
def test_a_revision_that_is_not_an_asset_hash_is_refused(revision):
    with pytest.raises(ValueError) as raised:
        ready_logical_ids(revision)
    assert str(raised.value) == (
        f"readiness revision: got {revision!r}; expected an asset hash "
        "(at least 8 lower-case hex digits)"
    )
