"""The baked image's plain data: the component document read back as AWSTOE reads it and checked
against its schema, versions derived from content, and the names both stacks share."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from workbench.config import UBUNTU_AMI_PARAMETERS, WorkbenchConfig
from workbench.image import (
    BUCKET_STANDIN,
    VERSION_NODE_MAX,
    component_document,
    component_version,
    content_version,
    image_stack_name,
    parent_image,
    provision_phase,
    published_parameter,
    resource_name,
)
from workbench.render import INSTANCE_ROOT

SCHEMA_FILE = Path(__file__).parent / "schemas" / "awstoe-component.schema.json"
SCHEMA = json.loads(SCHEMA_FILE.read_text())
KEY = "0" * 64 + ".zip"
# CloudFormation's limit on AWS::ImageBuilder::Component's inline Data.
DATA_MAX_CHARS = 16000


def document(**overrides) -> dict:
    values = {"name": "WorkbenchImage-install", "bucket": "assets-bucket", "key": KEY} | overrides
    return yaml.safe_load(component_document(**values))


def steps(doc: dict) -> dict[str, dict]:
    (build,) = [p for p in doc["phases"] if p["name"] == "build"]
    return {s["name"]: s for s in build["steps"]}


@pytest.fixture(scope="module")
def jsonschema():
    """Imported on first use, not at collection: with rfc3987-syntax installed (cfn-lint's),
    `import jsonschema` builds a URI grammar, about a second in every worker."""
    import jsonschema

    return jsonschema


def test_the_document_follows_the_awstoe_schema(jsonschema):
    doc = document()
    jsonschema.validate(doc, SCHEMA)
    phases = [p["name"] for p in doc["phases"]]
    assert len(phases) == len(set(phases)), "phase names are unique in a document"
    for phase in doc["phases"]:
        names = [s["name"] for s in phase["steps"]]
        assert len(names) == len(set(names)), f"step names are unique in phase {phase['name']}"
    assert len(component_document(name="x" * 128, bucket="b" * 63, key=KEY)) < DATA_MAX_CHARS


def test_the_schema_refuses_what_awstoe_would(jsonschema):
    doc = document()
    for broken in (
        {**doc, "phases": []},
        {**doc, "schemaVersion": 2.0},
        {**doc, "phase": doc["phases"]},
        {**doc, "phases": [{"name": "install", "steps": doc["phases"][0]["steps"]}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)
    step = steps(doc)["DownloadBundle"]
    for bad in (
        {**step, "action": "Download"},
        {**step, "inputs": [{"source": "https://example.com/x.zip", "destination": "/tmp/x"}]},
        {**step, "timeoutSeconds": 0},
        {**steps(doc)["Install"], "inputs": {"command": ["true"]}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**doc, "phases": [{"name": "build", "steps": [bad]}]}, SCHEMA)


def test_it_downloads_the_bundle_and_runs_its_install_phase_as_the_bootstrap_does():
    build = steps(document())
    assert list(build) == ["DownloadBundle", "UnpackBundle", "AwsCli", "Install"]
    (download,) = build["DownloadBundle"]["inputs"]
    assert download["source"] == f"s3://assets-bucket/{KEY}"
    unpack = build["UnpackBundle"]["inputs"]["commands"]
    assert f"python3 -m zipfile -e {download['destination']} {INSTANCE_ROOT}.new" in unpack
    assert f"chmod 0755 {INSTANCE_ROOT}/*.sh" in unpack
    assert build["Install"]["inputs"]["commands"][-1] == f"{INSTANCE_ROOT}/provision.sh install"
    assert build["AwsCli"]["inputs"]["commands"] == [
        "command -v aws >/dev/null || snap install aws-cli --classic"
    ]
    # No marker of a bundle in place: the instance downloads its own bundle at first boot.
    assert ".bundle" not in component_document(name="n", bucket="b", key=KEY)


def test_versions_follow_content_exactly():
    one = component_version(name="n", key=KEY)
    assert one == component_version(name="n", key=KEY), "deterministic"
    assert one != component_version(name="n", key="1" + KEY[1:]), "a new bundle, a new version"
    assert one != component_version(name="m", key=KEY)
    # The bucket (account and region) is not content.
    assert component_document(name="n", bucket=BUCKET_STANDIN, key=KEY) != component_document(
        name="n", bucket="b", key=KEY
    )
    assert content_version({"a": 1, "b": [2]}) == content_version({"b": [2], "a": 1})
    assert content_version({"a": 1}) != content_version({"a": 2})


def test_versions_are_image_builder_semantic_versions():
    for content in ("", "a", b"\xff" * 100, {"x": "y"}):
        version = content_version(content)
        assert re.fullmatch(r"\d+\.\d+\.\d+", version)
        assert all(0 <= int(node) <= VERSION_NODE_MAX for node in version.split("."))


def test_names_and_the_published_parameter():
    config = WorkbenchConfig(stack_name="Lab", ubuntu_release="22.04")
    assert image_stack_name(config) == "LabImage"
    assert resource_name(config, "recipe") == "LabImage-recipe"
    assert published_parameter(config) == "/workbench/Lab/image/22.04/ami-id"
    # Image Builder's parameter name pattern.
    assert re.fullmatch(r"[a-zA-Z0-9_.\-/]+", published_parameter(config))


@pytest.mark.parametrize("release", sorted(UBUNTU_AMI_PARAMETERS))
def test_the_parent_image_is_canonicals_parameter_for_the_release(release):
    config = WorkbenchConfig(ubuntu_release=release)
    assert parent_image(config) == f"ssm:{UBUNTU_AMI_PARAMETERS[release]}"
    assert f"/{release}/" in parent_image(config)


def test_a_baked_instance_runs_the_configure_phase_alone():
    assert provision_phase(WorkbenchConfig()) is None
    assert provision_phase(WorkbenchConfig(image="baked")) == "configure"
