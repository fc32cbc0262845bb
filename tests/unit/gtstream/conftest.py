"""The Lambdas' settings and gateways over moto in process (``aws`` in tests/unit/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from gtstream.config import Settings
from gtstream.deps import Deps
from gtstream.ledger import table_definition

REGION = "us-east-1"
ENV = {
    "PROJECT_PREFIX": "Cats",
    "LEDGER_TABLE": "cats-ledger",
    "DROP_BUCKET": "cats-drop",
    "INPUT_BUCKET": "cats-input",
    "OUTPUT_BUCKET": "cats-output",
    "INPUT_TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:cats-gt-input",
    "OUTPUT_TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:cats-gt-output",
    "NOTIFICATION_TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:cats-notifications",
    "PROJECT_CONFIG_URI": "s3://cats-instructions/config/project.json",
    "GROUNDTRUTH_ROLE_ARN": "arn:aws:iam::123456789012:role/cats-groundtruth",
    "AWS_REGION": REGION,
}


@pytest.fixture
def deps(aws: None) -> Iterator[Deps]:
    """The gateways of project ``Cats`` with its ledger table and instruction bucket created."""
    boto3.client("dynamodb", region_name=REGION).create_table(**table_definition(ENV["LEDGER_TABLE"]))
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="cats-instructions")
    yield Deps.build(Settings.from_env(ENV))
