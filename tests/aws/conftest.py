"""The aws layer: moto plays AWS in-process, with what it lacks registered by
workbench.local.emulator."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from tests.aws.deployment import KEY_NAME
from workbench.local.emulator import REGION, images, register_missing_models, seed_ssm


@pytest.fixture(autouse=True)
def aws(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    register_missing_models()
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        (image,) = images(1)
        seed_ssm(image)
        ec2.create_key_pair(KeyName=KEY_NAME)
        yield ec2
