"""An HTTP request -> the IAM authorization requests AWS evaluates for it.

The operation is identified the way the SDKs address it, with botocore's service models where the
route is in the URL: JSON protocols by ``X-Amz-Target`` (``AmazonSQS.SendMessage``), query
protocols by ``Action=``, Smithy RPCv2 by ``/service/<svc>/operation/<op>``, REST services (S3,
Lambda) by matching the method, path, query and required headers against each operation's
``http.requestUri`` and input members. The IAM action, resource ARN and request context of each
operation then come from the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html);
``service_reference.json`` here is its extract for the services we map, and a unit test checks
every row of this module against it (action exists, ARN fits the action's resource type, ``*`` for
actions without resource-level permissions).

Not every operation of every service is mapped: an operation that is not (``Mapped.unknown``) is
denied for a restricted principal with a message that says so, and recorded.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import unescape

from gtlocal.iam import resources
from gtlocal.iam.policy import AuthzRequest

# SigV4 signing name -> IAM service prefix (where they differ)
_PREFIX = {"monitoring": "cloudwatch", "execute-api": "apigateway"}
# X-Amz-Target prefix -> IAM service prefix (for requests without a signature)
_TARGETS = {
    "AmazonSQS": "sqs",
    "DynamoDB_20120810": "dynamodb",
    "SageMaker": "sagemaker",
    "AWSEvents": "events",
    "Logs_20140328": "logs",
    "TrentService": "kms",
    "GraniteServiceVersion20100801": "cloudwatch",
    "CodeCommit_20150413": "codecommit",
    "CodeBuild_20161006": "codebuild",
    "CodePipeline_20150709": "codepipeline",
}
_REST_MODELS = {"s3": "s3", "lambda": "lambda"}

Checks = list[AuthzRequest]


@dataclass
class Call:
    """One AWS API call as the local cloud received it."""

    service: str  # IAM prefix: s3, sqs, cloudwatch, ...
    operation: str  # API operation: SendMessage, HeadObject, ...
    region: str
    account: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    query: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def first(self, name: str) -> str | None:
        """The first value of a query-string parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


@dataclass
class Mapped:
    call: Call
    checks: Checks
    unknown: bool = False


def arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{resources._partition(region)}:{service}:{region}:{account}:{resource}"


def ctx(**values: Any) -> dict[str, tuple[str, ...]]:
    """Context keys from keyword arguments (``__`` stands for ``:``, ``_slash_`` for ``/``)."""
    out: dict[str, tuple[str, ...]] = {}
    for key, value in values.items():
        if value is None:
            continue
        name = key.replace("__", ":").replace("_slash_", "/").lower()
        out[name] = tuple(str(v) for v in value) if isinstance(value, list | tuple) else (str(value),)
    return out


# --- identification -------------------------------------------------------------------------------


def _flat_query(pairs: dict[str, list[str]]) -> dict[str, Any]:
    return {k: v[0] for k, v in pairs.items() if v}


def _cbor(body: bytes) -> dict[str, Any]:
    from botocore.parsers import RpcV2CBORParser

    parser = RpcV2CBORParser()
    try:
        result = parser.parse_data_item(parser.get_peekable_stream_from_bytes(body))
    except Exception:
        return {}
    return result if isinstance(result, dict) else {}


def identify(
    environ: Mapping[str, Any],
    body: bytes,
    query: dict[str, list[str]],
    service: str,
    region: str,
    account: str,
) -> Call | None:
    """The API call of a request; None for what is not an AWS API (moto's own /moto-api, ...)."""
    path = environ.get("PATH_INFO", "") or "/"
    if path.startswith("/moto-api"):
        return None
    headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    if "CONTENT_TYPE" in environ:
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    target = headers.get("x-amz-target", "")
    prefix = _PREFIX.get(service, service)
    if target:
        target_prefix, _, operation = target.partition(".")
        prefix = prefix or _TARGETS.get(target_prefix, target_prefix.lower())
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        return Call(
            prefix,
            operation,
            region,
            account,
            params if isinstance(params, dict) else {},
            headers,
            query,
            body,
        )
    rpc = re.fullmatch(r"/service/([^/]+)/operation/([^/]+)", path)
    if rpc:
        prefix = prefix or _TARGETS.get(rpc.group(1), rpc.group(1).lower())
        return Call(prefix, rpc.group(2), region, account, _cbor(body), headers, query, body)
    form: dict[str, list[str]] = {}
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded") and body:
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    action = (form.get("Action") or query.get("Action") or [""])[0]
    if action and prefix not in _REST_MODELS:
        params = _flat_query(query) | _flat_query(form)
        return Call(prefix or "unknown", action, region, account, params, headers, query, body)
    if not prefix or prefix == "s3":
        return _rest_call("s3", environ, path, headers, query, body, region, account)
    if prefix in _REST_MODELS:
        return _rest_call(prefix, environ, path, headers, query, body, region, account)
    return Call(prefix, "", region, account, {}, headers, query, body)


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    path: re.Pattern[str]
    literal_query: tuple[tuple[str, str | None], ...]
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]
    uri_members: tuple[tuple[str, str], ...]  # (group name, member name)

    @property
    def weight(self) -> int:
        return len(self.literal_query) + len(self.required_query) + len(self.required_headers)


@lru_cache(maxsize=4)
def _routes(service: str) -> tuple[_Route, ...]:
    import botocore.session

    model = botocore.session.get_session().get_service_model(_REST_MODELS[service])
    routes = []
    for name in model.operation_names:
        op = model.operation_model(name)
        if op.deprecated:  # e.g. GetBucketNotification shares its route with ...Configuration
            continue
        uri = op.http.get("requestUri", "/")
        path, _, qs = uri.partition("?")
        literal = []
        for part in qs.split("&") if qs else []:
            key, eq, value = part.partition("=")
            if key != "x-id":
                literal.append((key, value if eq else None))
        members: list[tuple[str, str]] = []
        pattern = ""
        for piece in re.split(r"(\{[^}]+\})", path):
            if piece.startswith("{"):
                label = piece[1:-1]
                greedy = label.endswith("+")
                label = label.rstrip("+")
                group = f"g{len(members)}"
                members.append((group, label))
                pattern += f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)"
            else:
                pattern += re.escape(piece)
        if pattern != "/":
            pattern += "/?"
        shape = op.input_shape
        required_query: list[str] = []
        required_headers: list[str] = []
        if shape is not None:
            for member_name in shape.required_members:
                serialization = shape.members[member_name].serialization
                if serialization.get("location") == "querystring":
                    required_query.append(serialization["name"])
                elif serialization.get("location") == "header":
                    required_headers.append(serialization["name"].lower())
        routes.append(
            _Route(
                name,
                op.http.get("method", "GET"),
                re.compile(pattern, re.DOTALL),
                tuple(literal),
                tuple(required_query),
                tuple(required_headers),
                tuple(members),
            )
        )
    return tuple(routes)


_VIRTUAL_HOST = re.compile(r"^(?P<bucket>.+?)\.(s3[.-]|localhost$)")


def _rest_call(
    service: str,
    environ: Mapping[str, Any],
    path: str,
    headers: dict[str, str],
    query: dict[str, list[str]],
    body: bytes,
    region: str,
    account: str,
) -> Call:
    if service == "s3":
        host = headers.get("host", "").rsplit(":", 1)[0]
        virtual = _VIRTUAL_HOST.match(host)
        if virtual and not re.fullmatch(r"[\d.]+", host):
            path = "/" + virtual.group("bucket") + (path if path != "/" else "")
    raw_path = urllib.parse.unquote(path)
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    best: tuple[int, _Route, re.Match[str]] | None = None
    for route in _routes(service):
        if route.method != method:
            continue
        match = route.path.fullmatch(raw_path)
        if match is None:
            continue
        if any(
            key not in query or (value is not None and query[key][0] != value)
            for key, value in route.literal_query
        ):
            continue
        if any(key not in query for key in route.required_query):
            continue
        if any(name not in headers for name in route.required_headers):
            continue
        if best is None or route.weight > best[0]:
            best = (route.weight, route, match)
    if best is None:
        return Call(service, "", region, account, {}, headers, query, body)
    _, route, match = best
    params = {member: match.group(group) for group, member in route.uri_members}
    return Call(service, route.operation, region, account, params, headers, query, body)


# --- the mapping ----------------------------------------------------------------------------------

Mapper = Callable[[Call], Checks]
_MAPPERS: dict[tuple[str, str], Mapper] = {}


def maps(service: str, *operations: str) -> Callable[[Mapper], Mapper]:
    def register(func: Mapper) -> Mapper:
        for operation in operations:
            _MAPPERS[(service, operation)] = func
        return func

    return register


def mapped_operations() -> list[tuple[str, str]]:
    return sorted(_MAPPERS)


def authorize(call: Call) -> Mapped:
    mapper = _MAPPERS.get((call.service, call.operation))
    if mapper is None:
        return Mapped(call, [], unknown=True)
    return Mapped(call, mapper(call))


def everywhere(service: str, action: str, operations: list[str]) -> None:
    """Operations whose action has no resource-level permissions: Resource ``*``."""

    def mapper(call: Call) -> Checks:
        return [AuthzRequest(f"{service}:{call.operation}" if action == "=" else action, "*")]

    for operation in operations:
        _MAPPERS[(service, operation)] = mapper


# --- KMS use by S3, SQS and SNS on the caller's behalf --------------------------------------------


def kms_checks(
    call: Call, key_id: str | None, actions: list[str], encryption_context: dict[str, str], via: str
) -> Checks:
    """The implicit KMS permissions of a call on an SSE-KMS resource (the caller's IAM policies and
    the key policy must both allow them; see ``enforce``)."""
    if not key_id:
        return []
    key = resources.kms_key(call.account, call.region, key_id)
    if key is None:
        return []  # AWS answers KMS.NotFoundException; moto decides what it answers
    context = ctx(
        kms__viaservice=f"{via}.{call.region}.amazonaws.com",
        kms__calleraccount=call.account,
        kms__encryptioncontextkeys=list(encryption_context),
    )
    for name, value in encryption_context.items():
        context[f"kms:encryptioncontext:{name}".lower()] = (value,)
    return [AuthzRequest(action, key.arn, context) for action in actions]


# --- S3 -------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
# (API operation -> policy action; e.g. HeadObject needs s3:GetObject, ListObjectsV2 s3:ListBucket).

_S3_BUCKET_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "GetBucketPolicyStatus": "s3:GetBucketPolicyStatus",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketTagging": "s3:GetBucketTagging",
    "PutBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
    "PutBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetBucketAcl": "s3:GetBucketAcl",
    "PutBucketAcl": "s3:PutBucketAcl",
    "GetBucketLogging": "s3:GetBucketLogging",
    "PutBucketLogging": "s3:PutBucketLogging",
    "GetBucketWebsite": "s3:GetBucketWebsite",
    "GetBucketRequestPayment": "s3:GetBucketRequestPayment",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
}
_S3_OBJECT_ACTIONS = {
    "DeleteObject": "s3:DeleteObject",
    "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
    "DeleteObjectTagging": "s3:DeleteObjectTagging",
    "GetObjectAcl": "s3:GetObjectAcl",
    "PutObjectAcl": "s3:PutObjectAcl",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "CompleteMultipartUpload": "s3:PutObject",
}


def _bucket_arn(bucket: str, region: str) -> str:
    return f"arn:{resources._partition(region)}:s3:::{bucket}"


def _object_arn(bucket: str, key: str, region: str) -> str:
    return f"{_bucket_arn(bucket, region)}/{key}"


def _s3_write_key(call: Call, bucket: str) -> tuple[str | None, bool]:
    """The KMS key a write to ``bucket`` uses (request headers, else the bucket default)."""
    algorithm = call.header("x-amz-server-side-encryption")
    bucket_key = (call.header("x-amz-server-side-encryption-bucket-key-enabled") or "").lower() == "true"
    if algorithm:
        if algorithm.startswith("aws:kms"):
            return call.header("x-amz-server-side-encryption-aws-kms-key-id") or "alias/aws/s3", bucket_key
        return None, False
    found = resources.s3_bucket(call.account, bucket)
    rule = ((found.encryption or {}).get("Rule") or {}) if found is not None else {}
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    if str(default.get("SSEAlgorithm", "")).startswith("aws:kms"):
        enabled = str(rule.get("BucketKeyEnabled", "false")).lower() == "true"
        return default.get("KMSMasterKeyID") or "alias/aws/s3", enabled
    return None, False


def _s3_read_key(call: Call, bucket: str, key: str) -> tuple[str | None, bool]:
    found = resources.s3_object(call.account, bucket, key)
    if found is None or not str(getattr(found, "encryption", "") or "").startswith("aws:kms"):
        return None, False
    enabled = str(getattr(found, "bucket_key_enabled", "") or "").lower() == "true"
    return getattr(found, "kms_key_id", None) or "alias/aws/s3", enabled


def _s3_kms(
    call: Call, bucket: str, key: str, key_id: str | None, bucket_key: bool, actions: list[str]
) -> Checks:
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html: uploading needs
    # kms:GenerateDataKey, downloading kms:Decrypt, a multipart upload both; the encryption context
    # aws:s3:arn is the object ARN, or the bucket ARN with an S3 Bucket Key.
    target = _bucket_arn(bucket, call.region) if bucket_key else _object_arn(bucket, key, call.region)
    return kms_checks(call, key_id, actions, {"aws:s3:arn": target}, "s3")


def _s3_object_context(call: Call) -> dict[str, tuple[str, ...]]:
    return ctx(
        s3__x_amz_server_side_encryption=call.header("x-amz-server-side-encryption"),
        s3__x_amz_server_side_encryption_aws_kms_key_id=call.header(
            "x-amz-server-side-encryption-aws-kms-key-id"
        ),
        s3__x_amz_acl=call.header("x-amz-acl"),
    )


def _fix_s3_keys(context: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {k.replace("_", "-"): v for k, v in context.items()}


@maps("s3", *_S3_BUCKET_ACTIONS, "ListBuckets")
def _s3_bucket(call: Call) -> Checks:
    if call.operation == "ListBuckets":
        return [AuthzRequest("s3:ListAllMyBuckets", "*")]
    bucket = call.param("Bucket", "")
    context: dict[str, tuple[str, ...]] = {}
    if call.operation in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
        context = ctx(
            s3__prefix=call.first("prefix") or "",
            s3__delimiter=call.first("delimiter"),
            s3__max_keys=call.first("max-keys"),
        )
        context = _fix_s3_keys(context)
    return [AuthzRequest(_S3_BUCKET_ACTIONS[call.operation], _bucket_arn(bucket, call.region), context)]


@maps("s3", "GetObject", "HeadObject")
def _s3_get(call: Call) -> Checks:
    bucket, key = call.param("Bucket", ""), call.param("Key", "")
    versioned = "versionId" in call.query
    action = "s3:GetObjectVersion" if versioned else "s3:GetObject"
    checks = [AuthzRequest(action, _object_arn(bucket, key, call.region))]
    if call.operation == "GetObject":  # HEAD returns metadata only: no decryption
        key_id, bucket_key = _s3_read_key(call, bucket, key)
        checks += _s3_kms(call, bucket, key, key_id, bucket_key, ["kms:Decrypt"])
    if (
        not versioned
        and resources.s3_bucket(call.account, bucket) is not None
        and resources.s3_object(call.account, bucket, key) is None
    ):
        # "If the object you request doesn't exist, the error that Amazon S3 returns depends on
        # whether you also have the s3:ListBucket permission": 404 with it, 403 without
        # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, API_HeadObject.html).
        checks.append(AuthzRequest("s3:ListBucket", _bucket_arn(bucket, call.region)))
    return checks


@maps("s3", "PutObject", "CreateMultipartUpload", "UploadPart")
def _s3_put(call: Call) -> Checks:
    bucket, key = call.param("Bucket", ""), call.param("Key", "")
    target = _object_arn(bucket, key, call.region)
    checks = [AuthzRequest("s3:PutObject", target, _fix_s3_keys(_s3_object_context(call)))]
    if call.operation != "UploadPart":
        if call.header("x-amz-tagging"):
            checks.append(AuthzRequest("s3:PutObjectTagging", target))
        if call.header("x-amz-acl") or any(h.startswith("x-amz-grant-") for h in call.headers):
            checks.append(AuthzRequest("s3:PutObjectAcl", target))
        key_id, bucket_key = _s3_write_key(call, bucket)
        actions = ["kms:GenerateDataKey"] + (
            ["kms:Decrypt"] if call.operation == "CreateMultipartUpload" else []
        )
        checks += _s3_kms(call, bucket, key, key_id, bucket_key, actions)
    return checks


def _copy_source(call: Call) -> tuple[str, str, str | None]:
    raw = urllib.parse.unquote(call.header("x-amz-copy-source") or "")
    raw, _, version = raw.partition("?versionId=")
    bucket, _, key = raw.lstrip("/").partition("/")
    return bucket, key, version or None


@maps("s3", "CopyObject", "UploadPartCopy")
def _s3_copy(call: Call) -> Checks:
    bucket, key = call.param("Bucket", ""), call.param("Key", "")
    src_bucket, src_key, version = _copy_source(call)
    target = _object_arn(bucket, key, call.region)
    checks = [
        AuthzRequest(
            "s3:GetObjectVersion" if version else "s3:GetObject",
            _object_arn(src_bucket, src_key, call.region),
        ),
        AuthzRequest("s3:PutObject", target, _fix_s3_keys(_s3_object_context(call))),
    ]
    if call.header("x-amz-tagging") and call.header("x-amz-tagging-directive") == "REPLACE":
        checks.append(AuthzRequest("s3:PutObjectTagging", target))
    src_key_id, src_bucket_key = _s3_read_key(call, src_bucket, src_key)
    checks += _s3_kms(call, src_bucket, src_key, src_key_id, src_bucket_key, ["kms:Decrypt"])
    if call.operation == "CopyObject":
        key_id, bucket_key = _s3_write_key(call, bucket)
        checks += _s3_kms(call, bucket, key, key_id, bucket_key, ["kms:GenerateDataKey"])
    return checks


@maps("s3", *_S3_OBJECT_ACTIONS)
def _s3_object(call: Call) -> Checks:
    bucket, key = call.param("Bucket", ""), call.param("Key", "")
    action = _S3_OBJECT_ACTIONS[call.operation]
    if call.operation == "DeleteObject" and "versionId" in call.query:
        action = "s3:DeleteObjectVersion"
    return [AuthzRequest(action, _object_arn(bucket, key, call.region))]


@maps("s3", "DeleteObjects")
def _s3_delete_objects(call: Call) -> Checks:
    bucket = call.param("Bucket", "")
    keys = [
        unescape(k) for k in re.findall(r"<Key>(.*?)</Key>", call.body.decode("utf-8", "replace"), re.DOTALL)
    ]
    return [AuthzRequest("s3:DeleteObject", _object_arn(bucket, key, call.region)) for key in keys]


# --- SQS ------------------------------------------------------------------------------------------
# SQS actions: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html
# (the batch APIs need the single-message action: SendMessageBatch -> sqs:SendMessage, ...).


def queue_arn_from_url(url: str, region: str, account: str) -> tuple[str, str, str]:
    """(queue ARN, queue name, account) from a queue URL ``http(s)://host/<account>/<name>``."""
    parts = urllib.parse.urlparse(url).path.strip("/").split("/")
    name = parts[-1] if parts else ""
    owner = parts[-2] if len(parts) >= 2 and parts[-2].isdigit() else account
    host = urllib.parse.urlparse(url).hostname or ""
    found = re.match(r"^sqs\.([a-z0-9-]+)\.", host)
    region = found.group(1) if found else region
    return arn("sqs", region, owner, name), name, owner


_SQS = {
    "SendMessage": "sqs:SendMessage",
    "SendMessageBatch": "sqs:SendMessage",
    "ReceiveMessage": "sqs:ReceiveMessage",
    "DeleteMessage": "sqs:DeleteMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
    "SetQueueAttributes": "sqs:SetQueueAttributes",
    "DeleteQueue": "sqs:DeleteQueue",
    "PurgeQueue": "sqs:PurgeQueue",
    "ListQueueTags": "sqs:ListQueueTags",
    "TagQueue": "sqs:TagQueue",
    "UntagQueue": "sqs:UntagQueue",
    "ListDeadLetterSourceQueues": "sqs:ListDeadLetterSourceQueues",
    "AddPermission": "sqs:AddPermission",
    "RemovePermission": "sqs:RemovePermission",
}


@maps("sqs", *_SQS)
def _sqs_queue(call: Call) -> Checks:
    queue, name, owner = queue_arn_from_url(call.param("QueueUrl", ""), call.region, call.account)
    checks = [AuthzRequest(_SQS[call.operation], queue)]
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html:
    # producers need kms:GenerateDataKey and kms:Decrypt, consumers kms:Decrypt; the encryption
    # context is aws:sqs:arn = the queue ARN.
    if call.operation in ("SendMessage", "SendMessageBatch", "ReceiveMessage"):
        key_id = resources.queue_kms_key(owner, call.region, name)
        actions = (
            ["kms:Decrypt"] if call.operation == "ReceiveMessage" else ["kms:GenerateDataKey", "kms:Decrypt"]
        )
        checks += kms_checks(call, key_id, actions, {"aws:sqs:arn": queue}, "sqs")
    return checks


@maps("sqs", "CreateQueue", "GetQueueUrl")
def _sqs_by_name(call: Call) -> Checks:
    owner = call.param("QueueOwnerAWSAccountId") or call.account
    queue = arn("sqs", call.region, owner, call.param("QueueName", ""))
    checks = [AuthzRequest(f"sqs:{call.operation}", queue)]
    tags = call.param("tags") or {}
    if call.operation == "CreateQueue" and tags:
        checks.append(AuthzRequest("sqs:TagQueue", queue, ctx(aws__tagkeys=list(tags))))
    return checks


everywhere("sqs", "sqs:ListQueues", ["ListQueues"])


# --- SNS ------------------------------------------------------------------------------------------

_SNS_TOPIC = {
    "Publish": "sns:Publish",
    "PublishBatch": "sns:Publish",
    "Subscribe": "sns:Subscribe",
    "GetTopicAttributes": "sns:GetTopicAttributes",
    "SetTopicAttributes": "sns:SetTopicAttributes",
    "DeleteTopic": "sns:DeleteTopic",
    "ListSubscriptionsByTopic": "sns:ListSubscriptionsByTopic",
    "AddPermission": "sns:AddPermission",
    "RemovePermission": "sns:RemovePermission",
    "ConfirmSubscription": "sns:ConfirmSubscription",
    "GetDataProtectionPolicy": "sns:GetDataProtectionPolicy",
}


@maps("sns", *_SNS_TOPIC)
def _sns_topic(call: Call) -> Checks:
    topic = call.param("TopicArn") or call.param("TargetArn") or call.param("ResourceArn") or ""
    context: dict[str, tuple[str, ...]] = {}
    if call.operation == "Subscribe":
        context = ctx(sns__endpoint=call.param("Endpoint"), sns__protocol=call.param("Protocol"))
    checks = [AuthzRequest(_SNS_TOPIC[call.operation], topic, context)]
    # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html: publishers to an encrypted
    # topic need kms:GenerateDataKey* and kms:Decrypt on its key.
    if call.operation in ("Publish", "PublishBatch") and topic.startswith("arn:"):
        parts = topic.split(":")
        key_id = resources.topic_kms_key(parts[4], parts[3], topic)
        checks += kms_checks(call, key_id, ["kms:GenerateDataKey", "kms:Decrypt"], {}, "sns")
    return checks


@maps("sns", "CreateTopic")
def _sns_create(call: Call) -> Checks:
    return [AuthzRequest("sns:CreateTopic", arn("sns", call.region, call.account, call.param("Name", "")))]


@maps("sns", "ListTagsForResource", "TagResource", "UntagResource")
def _sns_tags(call: Call) -> Checks:
    return [AuthzRequest(f"sns:{call.operation}", call.param("ResourceArn", ""))]


@maps("sns", "GetSubscriptionAttributes", "SetSubscriptionAttributes")
def _sns_subscription(call: Call) -> Checks:
    topic = call.param("SubscriptionArn", "").rsplit(":", 1)[0]
    return [AuthzRequest(f"sns:{call.operation}", topic)]


# sns:Unsubscribe has no resource type in the Service Authorization Reference: Resource "*".
everywhere("sns", "=", ["Unsubscribe", "ListTopics", "ListSubscriptions"])


# --- DynamoDB -------------------------------------------------------------------------------------


def table_arn(call: Call, name: str, index: str | None = None) -> str:
    base = name if name.startswith("arn:") else arn("dynamodb", call.region, call.account, f"table/{name}")
    return f"{base}/index/{index}" if index else base


@maps(
    "dynamodb",
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "DescribeTable",
    "CreateTable",
    "DeleteTable",
    "UpdateTable",
    "DescribeTimeToLive",
    "UpdateTimeToLive",
    "DescribeContinuousBackups",
    "UpdateContinuousBackups",
)
def _dynamodb_table(call: Call) -> Checks:
    index = call.param("IndexName") if call.operation in ("Query", "Scan") else None
    return [AuthzRequest(f"dynamodb:{call.operation}", table_arn(call, call.param("TableName", ""), index))]


@maps("dynamodb", "BatchWriteItem", "BatchGetItem")
def _dynamodb_batch(call: Call) -> Checks:
    return [
        AuthzRequest(f"dynamodb:{call.operation}", table_arn(call, name))
        for name in call.param("RequestItems") or {}
    ]


_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


@maps("dynamodb", "TransactWriteItems", "TransactGetItems")
def _dynamodb_transact(call: Call) -> Checks:
    checks = []
    for item in call.param("TransactItems") or []:
        for kind, body in item.items():
            action = "GetItem" if kind == "Get" else _TRANSACT.get(kind, kind)
            checks.append(AuthzRequest(f"dynamodb:{action}", table_arn(call, body.get("TableName", ""))))
    return checks


@maps("dynamodb", "ListTagsOfResource", "TagResource", "UntagResource")
def _dynamodb_tags(call: Call) -> Checks:
    return [AuthzRequest(f"dynamodb:{call.operation}", call.param("ResourceArn", ""))]


everywhere("dynamodb", "=", ["ListTables", "DescribeLimits", "DescribeEndpoints"])


# --- SageMaker ------------------------------------------------------------------------------------


def labeling_job_arn(call: Call, name: str) -> str:
    # Ground Truth job ARNs carry the lower-cased name (job names are not case sensitive).
    return arn("sagemaker", call.region, call.account, f"labeling-job/{name.lower()}")


def _tag_context(tags: list[dict[str, str]]) -> dict[str, tuple[str, ...]]:
    context = ctx(aws__tagkeys=[t.get("Key", "") for t in tags])
    for tag in tags:
        context[f"aws:requesttag/{tag.get('Key', '')}".lower()] = (tag.get("Value", ""),)
    return context


@maps("sagemaker", "CreateLabelingJob")
def _sagemaker_create(call: Call) -> Checks:
    job = labeling_job_arn(call, call.param("LabelingJobName", ""))
    tags = call.param("Tags") or []
    human = call.param("HumanTaskConfig") or {}
    output = call.param("OutputConfig") or {}
    resources_config = call.param("LabelingJobAlgorithmsConfig") or {}
    context = ctx(
        sagemaker__workteamarn=human.get("WorkteamArn"),
        sagemaker__outputkmskey=output.get("KmsKeyId"),
        sagemaker__volumekmskey=(resources_config.get("LabelingJobResourceConfig") or {}).get(
            "VolumeKmsKeyId"
        ),
    )
    if tags:
        context |= _tag_context(tags)
    checks = [AuthzRequest("sagemaker:CreateLabelingJob", job, context)]
    if tags:  # https://docs.aws.amazon.com/sagemaker/latest/dg/security_iam_id-based-policy-examples.html
        checks.append(AuthzRequest("sagemaker:AddTags", job, _tag_context(tags)))
    role = call.param("RoleArn")
    if role:  # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
        passed = ctx(iam__passedtoservice="sagemaker.amazonaws.com", iam__associatedresourcearn=job)
        checks.append(AuthzRequest("iam:PassRole", role, passed))
    return checks


@maps("sagemaker", "DescribeLabelingJob", "StopLabelingJob")
def _sagemaker_job(call: Call) -> Checks:
    return [
        AuthzRequest(f"sagemaker:{call.operation}", labeling_job_arn(call, call.param("LabelingJobName", "")))
    ]


@maps("sagemaker", "DescribeWorkteam")
def _sagemaker_workteam(call: Call) -> Checks:
    name = call.param("WorkteamName", "")
    return [
        AuthzRequest(
            "sagemaker:DescribeWorkteam", arn("sagemaker", call.region, call.account, f"workteam/{name}")
        )
    ]


@maps("sagemaker", "AddTags", "ListTags", "DeleteTags")
def _sagemaker_tags(call: Call) -> Checks:
    return [AuthzRequest(f"sagemaker:{call.operation}", call.param("ResourceArn", ""))]


everywhere("sagemaker", "=", ["ListLabelingJobs", "ListWorkteams", "ListLabelingJobsForWorkteam"])


# --- EventBridge ----------------------------------------------------------------------------------


def _bus_arn(call: Call, bus: str | None) -> str:
    bus = bus or "default"
    return bus if bus.startswith("arn:") else arn("events", call.region, call.account, f"event-bus/{bus}")


def _rule_arn(call: Call, rule: str, bus: str | None) -> str:
    if rule.startswith("arn:"):
        return rule
    bus_name = (bus or "default").rsplit("/", 1)[-1]
    path = f"rule/{rule}" if bus_name == "default" else f"rule/{bus_name}/{rule}"
    return arn("events", call.region, call.account, path)


@maps("events", "PutEvents")
def _events_put(call: Call) -> Checks:
    checks = []
    for entry in call.param("Entries") or []:
        context = ctx(events__source=entry.get("Source"), events__detail_type=entry.get("DetailType"))
        context = {k.replace("_", "-"): v for k, v in context.items()}
        checks.append(AuthzRequest("events:PutEvents", _bus_arn(call, entry.get("EventBusName")), context))
    return checks


@maps(
    "events",
    "PutRule",
    "DescribeRule",
    "DeleteRule",
    "EnableRule",
    "DisableRule",
    "PutTargets",
    "RemoveTargets",
    "ListTargetsByRule",
)
def _events_rule(call: Call) -> Checks:
    name = call.param("Name") or call.param("Rule") or ""
    return [AuthzRequest(f"events:{call.operation}", _rule_arn(call, name, call.param("EventBusName")))]


@maps("events", "DescribeEventBus")
def _events_bus(call: Call) -> Checks:
    return [AuthzRequest("events:DescribeEventBus", _bus_arn(call, call.param("Name")))]


everywhere("events", "=", ["ListRules", "ListEventBuses"])


# --- CloudWatch -----------------------------------------------------------------------------------


def _alarm_arn(call: Call, name: str) -> str:
    return arn("cloudwatch", call.region, call.account, f"alarm:{name}")


@maps("cloudwatch", "PutMetricAlarm", "SetAlarmState", "DescribeAlarmHistory")
def _cloudwatch_alarm(call: Call) -> Checks:
    return [AuthzRequest(f"cloudwatch:{call.operation}", _alarm_arn(call, call.param("AlarmName", "")))]


@maps("cloudwatch", "DeleteAlarms", "EnableAlarmActions", "DisableAlarmActions")
def _cloudwatch_alarms(call: Call) -> Checks:
    names = call.param("AlarmNames")
    if names is None:  # query protocol: AlarmNames.member.N
        names = [v for k, v in sorted(call.params.items()) if k.startswith("AlarmNames.member.")]
    return [AuthzRequest(f"cloudwatch:{call.operation}", _alarm_arn(call, n)) for n in names]


@maps("cloudwatch", "PutMetricData")
def _cloudwatch_metrics(call: Call) -> Checks:
    # No resource-level permissions; cloudwatch:namespace narrows it.
    return [AuthzRequest("cloudwatch:PutMetricData", "*", ctx(cloudwatch__namespace=call.param("Namespace")))]


@maps("cloudwatch", "DescribeAlarms")
def _cloudwatch_describe_alarms(call: Call) -> Checks:
    # A listing is authorized against every alarm of the account and Region.
    return [AuthzRequest("cloudwatch:DescribeAlarms", _alarm_arn(call, "*"))]


everywhere(
    "cloudwatch",
    "=",
    ["GetMetricData", "GetMetricStatistics", "ListMetrics", "DescribeAlarmsForMetric"],
)
everywhere("cloudwatch", "cloudwatch:GetDashboard", ["GetDashboard"])


# --- CloudWatch Logs ------------------------------------------------------------------------------


def log_group_arn(call: Call, group: str, stream: str | None = None) -> str:
    base = arn("logs", call.region, call.account, f"log-group:{group}")
    return f"{base}:log-stream:{stream}" if stream is not None else base


@maps(
    "logs",
    "CreateLogGroup",
    "DeleteLogGroup",
    "PutRetentionPolicy",
    "DeleteRetentionPolicy",
    "AssociateKmsKey",
    "DisassociateKmsKey",
    "DescribeLogStreams",
    "FilterLogEvents",
    "ListTagsLogGroup",
    "TagLogGroup",
)
def _logs_group(call: Call) -> Checks:
    return [AuthzRequest(f"logs:{call.operation}", log_group_arn(call, call.param("logGroupName", "")))]


@maps("logs", "CreateLogStream", "PutLogEvents", "GetLogEvents")
def _logs_stream(call: Call) -> Checks:
    group, stream = call.param("logGroupName", ""), call.param("logStreamName", "")
    return [AuthzRequest(f"logs:{call.operation}", log_group_arn(call, group, stream))]


everywhere("logs", "=", ["DescribeLogGroups"])


# --- KMS ------------------------------------------------------------------------------------------


def _kms_key_arn(call: Call, key_id: str) -> str:
    key = resources.kms_key(call.account, call.region, key_id) if key_id else None
    if key is not None:
        return key.arn
    if key_id.startswith("arn:"):
        return key_id
    return arn("kms", call.region, call.account, key_id if key_id.startswith("alias/") else f"key/{key_id}")


def _kms_ciphertext_key(blob: str) -> str:
    """The key id moto embeds at the start of its ciphertexts (Decrypt without KeyId)."""
    import base64

    try:
        raw = base64.b64decode(blob)
        return raw[:36].decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return ""


@maps(
    "kms",
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncrypt",
    "DescribeKey",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "GetKeyRotationStatus",
    "EnableKeyRotation",
    "ScheduleKeyDeletion",
    "ListResourceTags",
    "TagResource",
    "UntagResource",
    "CreateGrant",
    "ListGrants",
    "EnableKey",
    "DisableKey",
)
def _kms_key_op(call: Call) -> Checks:
    key_id = call.param("KeyId") or ""
    if not key_id and call.operation == "Decrypt":
        key_id = _kms_ciphertext_key(call.param("CiphertextBlob", ""))
    context = ctx(kms__calleraccount=call.account)
    encryption = call.param("EncryptionContext") or {}
    for name, value in encryption.items():
        context[f"kms:encryptioncontext:{name}".lower()] = (str(value),)
    if encryption:
        context["kms:encryptioncontextkeys"] = tuple(encryption)
    action = "kms:ReEncryptFrom" if call.operation == "ReEncrypt" else f"kms:{call.operation}"
    return [AuthzRequest(action, _kms_key_arn(call, key_id), context)]


@maps("kms", "CreateAlias", "DeleteAlias", "UpdateAlias")
def _kms_alias(call: Call) -> Checks:
    alias = call.param("AliasName", "")
    checks = [AuthzRequest(f"kms:{call.operation}", arn("kms", call.region, call.account, alias))]
    if call.param("TargetKeyId"):
        checks.append(AuthzRequest(f"kms:{call.operation}", _kms_key_arn(call, call.param("TargetKeyId"))))
    return checks


everywhere("kms", "=", ["CreateKey", "ListKeys", "ListAliases"])


# --- Lambda ---------------------------------------------------------------------------------------


def function_arn(call: Call, name: str) -> str:
    if name.startswith("arn:"):
        return name
    if ":" in name:  # partial ARN "123456789012:function:name" or "name:qualifier"
        if name.count(":") >= 2:
            return f"arn:{resources._partition(call.region)}:lambda:{call.region}:{name}"
        fn, qualifier = name.split(":", 1)
        return arn("lambda", call.region, call.account, f"function:{fn}:{qualifier}")
    return arn("lambda", call.region, call.account, f"function:{name}")


@maps(
    "lambda",
    "Invoke",
    "GetFunction",
    "GetFunctionConfiguration",
    "UpdateFunctionConfiguration",
    "UpdateFunctionCode",
    "DeleteFunction",
    "GetPolicy",
    "AddPermission",
    "RemovePermission",
    "CreateFunction",
)
def _lambda_function(call: Call) -> Checks:
    action = "lambda:InvokeFunction" if call.operation == "Invoke" else f"lambda:{call.operation}"
    name = urllib.parse.unquote(call.param("FunctionName", ""))
    if call.operation == "CreateFunction":
        try:
            body = json.loads(call.body or b"{}")
        except ValueError:
            body = {}
        name = body.get("FunctionName", "")
        checks = [AuthzRequest(action, function_arn(call, name))]
        if body.get("Role"):
            passed = ctx(iam__passedtoservice="lambda.amazonaws.com")
            checks.append(AuthzRequest("iam:PassRole", body["Role"], passed))
        return checks
    return [AuthzRequest(action, function_arn(call, name))]


everywhere("lambda", "=", ["ListFunctions", "ListEventSourceMappings"])


# --- STS and IAM ----------------------------------------------------------------------------------


@maps("sts", "GetCallerIdentity")
def _sts_no_permission(call: Call) -> Checks:
    return []  # "No permissions are required to perform this operation" (STS API reference)


@maps("sts", "AssumeRole")
def _sts_assume(call: Call) -> Checks:
    return [AuthzRequest("sts:AssumeRole", call.param("RoleArn", ""))]


def _iam_arn(call: Call, resource: str) -> str:
    return f"arn:{resources._partition(call.region)}:iam::{call.account}:{resource}"


@maps(
    "iam",
    "GetRole",
    "GetRolePolicy",
    "ListRolePolicies",
    "ListAttachedRolePolicies",
    "PutRolePolicy",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "UpdateAssumeRolePolicy",
    "DeleteRole",
    "CreateRole",
    "TagRole",
    "ListRoleTags",
)
def _iam_role(call: Call) -> Checks:
    name = call.param("RoleName", "")
    role = resources.role_by_name(call.account, name)
    target = str(role.arn) if role is not None else _iam_arn(call, f"role{call.param('Path', '/')}{name}")
    return [AuthzRequest(f"iam:{call.operation}", target)]


@maps("iam", "GetPolicy", "GetPolicyVersion", "ListPolicyVersions", "DeletePolicy", "CreatePolicyVersion")
def _iam_policy(call: Call) -> Checks:
    return [AuthzRequest(f"iam:{call.operation}", call.param("PolicyArn", ""))]


@maps("iam", "GetUser", "ListAccessKeys", "CreateAccessKey", "ListAttachedUserPolicies", "ListUserPolicies")
def _iam_user(call: Call) -> Checks:
    name = call.param("UserName", "")
    return [AuthzRequest(f"iam:{call.operation}", _iam_arn(call, f"user/{name}") if name else "*")]


everywhere("iam", "=", ["ListRoles", "ListPolicies", "ListUsers", "CreatePolicy"])


# --- CodePipeline, CodeBuild, CodeCommit (the instructions pipeline; gtlocal.pipelines) -----------


@maps(
    "codepipeline",
    "StartPipelineExecution",
    "GetPipeline",
    "GetPipelineState",
    "GetPipelineExecution",
    "ListPipelineExecutions",
    "UpdatePipeline",
    "DeletePipeline",
)
def _codepipeline_pipeline(call: Call) -> Checks:
    name = call.param("name") or call.param("pipelineName") or (call.param("pipeline") or {}).get("name", "")
    return [
        AuthzRequest(f"codepipeline:{call.operation}", arn("codepipeline", call.region, call.account, name))
    ]


everywhere("codepipeline", "=", ["ListPipelines"])


def _codebuild_project_arn(call: Call, name: str) -> str:
    return name if name.startswith("arn:") else arn("codebuild", call.region, call.account, f"project/{name}")


@maps("codebuild", "StartBuild", "ListBuildsForProject", "DeleteProject", "UpdateProject", "CreateProject")
def _codebuild_project(call: Call) -> Checks:
    name = call.param("projectName") or call.param("name") or ""
    return [AuthzRequest(f"codebuild:{call.operation}", _codebuild_project_arn(call, name))]


@maps("codebuild", "BatchGetBuilds", "StopBuild")
def _codebuild_builds(call: Call) -> Checks:
    # Authorized on the build's project (Service Authorization Reference: resource type "project");
    # a build id is "<project>:<uuid>".
    ids = call.param("ids") or ([call.param("id")] if call.param("id") else [])
    projects = sorted({str(i).split(":", 1)[0] for i in ids if i})
    return [AuthzRequest(f"codebuild:{call.operation}", _codebuild_project_arn(call, p)) for p in projects]


@maps("codebuild", "BatchGetProjects")
def _codebuild_projects(call: Call) -> Checks:
    return [
        AuthzRequest("codebuild:BatchGetProjects", _codebuild_project_arn(call, str(n)))
        for n in call.param("names") or []
    ]


everywhere("codebuild", "=", ["ListProjects", "ListBuilds"])


@maps("codecommit", "GetRepository", "CreateRepository", "DeleteRepository", "GetBranch", "GetCommit")
def _codecommit_repository(call: Call) -> Checks:
    name = call.param("repositoryName", "")
    return [AuthzRequest(f"codecommit:{call.operation}", arn("codecommit", call.region, call.account, name))]
