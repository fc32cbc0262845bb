"""Resource policies and encryption settings, read from moto's backends in this process.

Every function answers None when the resource does not exist: the request then goes on to moto,
which answers the service's own not-found error (as AWS does after authorization).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gtlocal.iam.policy import Policy, PolicyError, parse_policy

PARTITION = "aws"


@lru_cache(maxsize=64)
def _partition(region: str) -> str:
    from moto.utilities.utils import get_partition

    return str(get_partition(region))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _parsed(document: Any, name: str) -> Policy | None:
    text = _text(document)
    if not text:
        return None
    try:
        return parse_policy(text, name)
    except PolicyError:
        return None  # AWS refuses invalid resource policies when they are written


# --- S3 -------------------------------------------------------------------------------------------


def s3_bucket(account: str, bucket: str) -> Any:
    from moto.s3.models import s3_backends

    try:
        return s3_backends[account][PARTITION].buckets.get(bucket)
    except KeyError:
        return None


def bucket_policy(account: str, bucket: str) -> Policy | None:
    found = s3_bucket(account, bucket)
    return _parsed(found.policy, f"bucket policy of {bucket}") if found is not None else None


def s3_object(account: str, bucket: str, key: str) -> Any:
    found = s3_bucket(account, bucket)
    if found is None:
        return None
    try:
        return found.keys.get(key)
    except Exception:  # moto raises for some odd keys; treat as absent
        return None


# --- SQS ------------------------------------------------------------------------------------------


def sqs_queue(account: str, region: str, name: str) -> Any:
    from moto.sqs.models import sqs_backends

    try:
        return sqs_backends[account][region].queues.get(name)
    except KeyError:
        return None


def queue_policy(account: str, region: str, name: str) -> Policy | None:
    queue = sqs_queue(account, region, name)
    return _parsed(queue.policy, f"queue policy of {name}") if queue is not None else None


def queue_kms_key(account: str, region: str, name: str) -> str | None:
    queue = sqs_queue(account, region, name)
    key = getattr(queue, "kms_master_key_id", None) if queue is not None else None
    return str(key) if key else None


# --- SNS ------------------------------------------------------------------------------------------


def sns_topic(account: str, region: str, arn: str) -> Any:
    from moto.sns.models import sns_backends

    try:
        return sns_backends[account][region].topics.get(arn)
    except KeyError:
        return None


def topic_policy(account: str, region: str, arn: str) -> Policy | None:
    topic = sns_topic(account, region, arn)
    if topic is None:
        return None
    return _parsed(topic.policy, f"topic policy of {arn.rsplit(':', 1)[-1]}")


def topic_kms_key(account: str, region: str, arn: str) -> str | None:
    topic = sns_topic(account, region, arn)
    key = getattr(topic, "kms_master_key_id", "") if topic is not None else ""
    return str(key) if key else None


# --- KMS ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KmsKey:
    arn: str
    account: str
    region: str
    policy: Policy | None
    aws_managed: str = ""  # "sns" for alias/aws/sns, ...


def _aws_managed_key_policy(service: str, account: str, region: str) -> dict[str, Any]:
    """The key policy AWS gives an AWS managed key (``alias/aws/<service>``): every principal of the
    account may use it through that service only; the account reads its metadata. It cannot be
    changed, and no service principal (CloudWatch, EventBridge, S3 notifications) is in it.
    https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#aws-managed-key and e.g.
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html ("you can't use the AWS managed
    key for Amazon SNS" for event sources from AWS services)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Allow access through the service for all principals in the account",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:CreateGrant",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account,
                        "kms:ViaService": f"{service}.{region}.amazonaws.com",
                    }
                },
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{_partition(region)}:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*",
            },
        ],
    }


def kms_key(account: str, region: str, key_id: str) -> KmsKey | None:
    """A key by id, ARN, alias name or alias ARN (AWS managed keys appear on first use, as in AWS)."""
    from moto.kms.models import kms_backends

    if key_id.startswith("arn:"):
        parts = key_id.split(":")
        if len(parts) >= 6:
            region, account = parts[3], parts[4]
    backend = kms_backends[account][region]
    alias = "alias/" + key_id.split(":alias/", 1)[1] if ":alias/" in key_id else key_id
    try:
        if alias.startswith("alias/aws/") and backend.get_key_id_from_alias(alias) is None:
            # AWS creates an AWS managed key on first use; moto knows only a few of them.
            created = backend.create_key(None, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "Default key", None)
            backend.create_alias(created.id, alias)
        raw_id = backend.any_id_to_key_id(key_id)
        key = backend.keys.get(raw_id) if raw_id else None
    except Exception:  # unknown alias, malformed id
        return None
    if key is None:
        return None
    managed = ""
    for alias in getattr(key, "aliases", {}):
        if alias.startswith("alias/aws/"):
            managed = alias[len("alias/aws/") :]
    document: Any = _aws_managed_key_policy(managed, account, region) if managed else key.policy
    policy = _parsed(document, f"key policy of {alias_or_id(key)}")
    return KmsKey(arn=key.arn, account=account, region=region, policy=policy, aws_managed=managed)


def alias_or_id(key: Any) -> str:
    aliases = list(getattr(key, "aliases", {}))
    return aliases[0] if aliases else str(key.id)


# --- IAM ------------------------------------------------------------------------------------------


def iam_backend(account: str, region: str = "us-east-1") -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account][_partition(region)]


def role_by_arn(account: str, arn: str) -> Any:
    name = arn.rsplit("/", 1)[-1]
    return role_by_name(account, name)


def role_by_name(account: str, name: str) -> Any:
    backend = iam_backend(account)
    for role in backend.roles.values():
        if role.name == name:
            return role
    return None


def trust_policy(role: Any) -> Policy | None:
    return _parsed(role.assume_role_policy_document, f"trust policy of {role.name}")


def managed_policy_document(policy: Any) -> str:
    for version in policy.versions:
        if version.is_default:
            return str(version.document)
    return "{}"
