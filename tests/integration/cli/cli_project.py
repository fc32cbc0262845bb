"""A minimal project for the CLI tests: the drop/input/output buckets and the ledger table of
docs/interfaces.md section 4, described by a deployment document written to a file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.documents import deployment_document

from gtcontract.names import BUCKET_KINDS, project_config_uri
from gtlocal.testing import LocalCloud
from gtstream.ledger import table_definition


@dataclass(frozen=True)
class Project:
    prefix: str
    document: dict[str, Any]
    deployment_file: Path
    cloud: LocalCloud

    @property
    def table(self) -> Any:
        return boto3.resource("dynamodb").Table(self.document["ledger_table"])

    @property
    def drop_bucket(self) -> str:
        return str(self.document["buckets"]["drop"])

    def put(self, **item: Any) -> None:
        self.table.put_item(Item=item)


def make_document(prefix: str, region: str) -> dict[str, Any]:
    """A valid deployment document (the contract's parser reads it) whose buckets are ``<prefix>-<kind>``."""
    doc = deployment_document(prefix, region=region)
    doc["buckets"] = {kind: f"{prefix}-{kind}" for kind in BUCKET_KINDS}
    doc["project_config_uri"] = project_config_uri(doc["buckets"]["instructions"])
    doc["lambda_environment"].update(
        DROP_BUCKET=doc["buckets"]["drop"],
        INPUT_BUCKET=doc["buckets"]["input"],
        OUTPUT_BUCKET=doc["buckets"]["output"],
        PROJECT_CONFIG_URI=doc["project_config_uri"],
    )
    return doc


def create_ledger_table(name: str) -> None:
    boto3.client("dynamodb").create_table(**table_definition(name))


@pytest.fixture
def project(cloud: LocalCloud, tmp_path: Path) -> Project:
    doc = make_document("clitest", cloud.region)
    s3 = boto3.client("s3")
    for bucket in ("drop", "input", "output"):
        s3.create_bucket(Bucket=doc["buckets"][bucket])
    create_ledger_table(doc["ledger_table"])
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return Project(prefix="clitest", document=doc, deployment_file=path, cloud=cloud)
