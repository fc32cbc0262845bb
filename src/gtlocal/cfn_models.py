"""CloudFormation resource models that moto lacks, so its CloudFormation can create our stacks.

moto 5 creates S3 buckets from a template with only their name, encryption and tags, and has no
CloudFormation model for ``AWS::S3::BucketPolicy``, ``AWS::SQS::QueuePolicy``,
``AWS::SNS::TopicPolicy``, ``AWS::SNS::Subscription``, ``AWS::CloudWatch::Alarm``,
``AWS::CodeCommit::Repository``, ``AWS::CodeBuild::Project`` or ``AWS::CodePipeline::Pipeline``: a stack
with them fails (a resource that depends on one is "undefined") or silently lacks them.

``install(endpoint)`` registers models for those types and extends the bucket model with the
properties the stacks use (public access block, ownership, versioning, CORS, lifecycle, queue
notifications). Each model applies its properties through the AWS API of the same local cloud
(boto3 at ``endpoint``, dummy credentials, so moto's default account), so moto validates them as
it would a direct call. ``gtlocal.shims.apply`` calls it from ``gtlocal.server.LocalCloud``; the
behaviour fixes the stacks also need (TLS-only bucket policies, schedule rules, CodeBuild
projects without a source location) are in ``gtlocal.shims``.

Not covered, because the stacks do not use them: updates (a change replaces nothing; stacks are
created and deleted), and bucket properties other than those listed above.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.s3.models import FakeBucket

_ENDPOINT: dict[str, str] = {}
# moto's model metaclass files models under the second part of their module name.
_MOTO_MODULE = "cloudformation_gaps.models"


_clients: dict[tuple[str, str, str], Any] = {}
_clients_lock = threading.Lock()


def _client(service: str, region: str) -> Any:
    """One client per service, region and endpoint, kept: a new boto3 session per resource loaded
    the service model again (~0.1 s of CPU each, most of a stack's creation time)."""
    key = (service, region, _ENDPOINT["url"])
    with _clients_lock:
        if key not in _clients:
            session = boto3.session.Session(
                region_name=region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106
            )
            _clients[key] = session.client(service, endpoint_url=_ENDPOINT["url"])  # type: ignore[call-overload]
        return _clients[key]


def _compact(value: Any) -> Any:
    """Drop the ``None`` left in lists by ``!If [cond, x, !Ref AWS::NoValue]`` (moto keeps them)."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value if v is not None]
    return value


def _as_bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class _Applied:
    """A resource that only applies a setting to another resource (a policy, an alarm...).

    Mixed into direct subclasses of CloudFormationModel: moto finds models by
    ``CloudFormationModel.__subclasses__()``, which lists direct subclasses only.
    """

    def __init__(self, physical_id: str) -> None:
        self.physical_id = physical_id

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region_name: str) -> Any:
        """Apply ``props`` (the resource's Properties, compacted) through the local cloud's API."""
        raise NotImplementedError

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_: Any,
    ) -> Any:
        return cls.create(resource_name, _compact(cloudformation_json["Properties"]), region_name)

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        raise NotImplementedError(f"stack updates of {cls.__name__} are not supported by the local cloud")

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        return None


class BucketPolicy(_Applied, CloudFormationModel):
    __module__ = _MOTO_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region_name: str) -> BucketPolicy:
        _client("s3", region_name).put_bucket_policy(
            Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"])
        )
        return cls(f"{props['Bucket']}-policy")


class QueuePolicy(_Applied, CloudFormationModel):
    __module__ = _MOTO_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region_name: str) -> QueuePolicy:
        sqs = _client("sqs", region_name)
        for url in props["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
        return cls(resource_name)


class TopicPolicy(_Applied, CloudFormationModel):
    __module__ = _MOTO_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region_name: str) -> TopicPolicy:
        sns = _client("sns", region_name)
        for arn in props["Topics"]:
            sns.set_topic_attributes(
                TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
            )
        return cls(resource_name)


class Subscription(_Applied, CloudFormationModel):
    __module__ = _MOTO_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    # The resource's properties that are subscription attributes (the same names in Subscribe's
    # Attributes): https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-subscription.html
    ATTRIBUTES = (
        "DeliveryPolicy",
        "FilterPolicy",
        "FilterPolicyScope",
        "RawMessageDelivery",
        "RedrivePolicy",
    )

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region_name: str) -> Subscription:
        attributes = {}
        for name in cls.ATTRIBUTES:
            if name in props:
                value = props[name]
                if isinstance(value, bool):
                    value = "true" if value else "false"
                attributes[name] = value if isinstance(value, str) else json.dumps(value)
        answer = _client("sns", region_name).subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
        )
        return cls(str(answer["SubscriptionArn"]))


class Alarm(_Applied, CloudFormationModel):
    __module__ = _MOTO_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region_name: str) -> Alarm:
        name = props.get("AlarmName", resource_name)
        _client("cloudwatch", region_name).put_metric_alarm(
            AlarmName=name,
            AlarmDescription=props.get("AlarmDescription", ""),
            Namespace=props["Namespace"],
            MetricName=props["MetricName"],
            Dimensions=props.get("Dimensions", []),
            Statistic=props["Statistic"],
            Period=int(props["Period"]),
            EvaluationPeriods=int(props["EvaluationPeriods"]),
            Threshold=float(props["Threshold"]),
            ComparisonOperator=props["ComparisonOperator"],
            TreatMissingData=props.get("TreatMissingData", "missing"),
            AlarmActions=props.get("AlarmActions", []),
            OKActions=props.get("OKActions", []),
        )
        return cls(name)


def _camel(value: Any, keep: frozenset[str] = frozenset({"Configuration"})) -> Any:
    """CloudFormation's PascalCase properties -> the camelCase of the CodeBuild/CodePipeline APIs.

    The values of ``keep`` keys are passed as they are (action configurations are string maps)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, child in value.items():
            name = key[:1].lower() + key[1:]
            if key in keep:
                out[name] = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in child.items()}
            else:
                out[name] = _camel(child, keep)
        return out
    if isinstance(value, list):
        return [_camel(v, keep) for v in value]
    return value


class _WithAttributes(_Applied):
    attributes: dict[str, str]

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.attributes[attribute_name]


class Repository(_WithAttributes, CloudFormationModel):
    __module__ = _MOTO_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeCommit::Repository"

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region_name: str) -> Repository:
        meta = _client("codecommit", region_name).create_repository(
            repositoryName=props["RepositoryName"],
            repositoryDescription=props.get("RepositoryDescription", ""),
        )["repositoryMetadata"]
        repository = cls(meta["repositoryName"])
        repository.attributes = {
            "Arn": meta["Arn"],
            "Name": meta["repositoryName"],
            "CloneUrlHttp": meta["cloneUrlHttp"],
            "CloneUrlSsh": meta["cloneUrlSsh"],
        }
        return repository


class BuildProject(_WithAttributes, CloudFormationModel):
    __module__ = _MOTO_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeBuild::Project"

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region_name: str) -> BuildProject:
        project = _client("codebuild", region_name).create_project(
            name=props["Name"],
            description=props.get("Description", ""),
            # (gtlocal.shims lets a CODEPIPELINE source/artifacts go without a location, as AWS does.)
            source={
                "buildspec" if k == "BuildSpec" else k[:1].lower() + k[1:]: v
                for k, v in props["Source"].items()
            },
            artifacts=_camel(props["Artifacts"]),
            environment={
                **_camel({k: v for k, v in props["Environment"].items() if k != "EnvironmentVariables"}),
                # moto turns a Ref to a Number parameter into an int; the API takes strings.
                "environmentVariables": [
                    {"name": v["Name"], "value": str(v["Value"]), "type": v.get("Type", "PLAINTEXT")}
                    for v in props["Environment"].get("EnvironmentVariables", [])
                ],
            },
            serviceRole=props["ServiceRole"],
            timeoutInMinutes=int(props.get("TimeoutInMinutes", 60)),
            logsConfig=_camel(props.get("LogsConfig", {})),
        )["project"]
        built = cls(project["name"])
        built.attributes = {"Arn": project["arn"]}
        return built


class Pipeline(_WithAttributes, CloudFormationModel):
    __module__ = _MOTO_MODULE

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodePipeline::Pipeline"

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region_name: str) -> Pipeline:
        pipeline = {
            "name": props["Name"],
            "roleArn": props["RoleArn"],
            "artifactStore": _camel(props["ArtifactStore"]),
            "stages": _camel(props["Stages"]),
            **({"pipelineType": props["PipelineType"]} if "PipelineType" in props else {}),
            **({"executionMode": props["ExecutionMode"]} if "ExecutionMode" in props else {}),
        }
        created = _client("codepipeline", region_name).create_pipeline(pipeline=pipeline)["pipeline"]
        made = cls(created["name"])
        made.attributes = {"Version": str(created.get("version", 1))}
        return made


def _apply_bucket_properties(name: str, props: dict[str, Any], region: str) -> None:
    s3 = _client("s3", region)
    if "PublicAccessBlockConfiguration" in props:
        block = {k: _as_bool(v) for k, v in props["PublicAccessBlockConfiguration"].items()}
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block)
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
        )
    if "CorsConfiguration" in props:
        rules = [
            {
                "AllowedMethods": r["AllowedMethods"],
                "AllowedOrigins": r["AllowedOrigins"],
                **({"AllowedHeaders": r["AllowedHeaders"]} if "AllowedHeaders" in r else {}),
                **({"ExposeHeaders": r["ExposedHeaders"]} if "ExposedHeaders" in r else {}),
                **({"MaxAgeSeconds": int(r["MaxAge"])} if "MaxAge" in r else {}),
            }
            for r in props["CorsConfiguration"]["CorsRules"]
        ]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    if "LifecycleConfiguration" in props:
        rules = []
        for r in props["LifecycleConfiguration"]["Rules"]:
            rule: dict[str, Any] = {
                "ID": r["Id"],
                "Status": r["Status"],
                "Filter": {"Prefix": r.get("Prefix", "")},
            }
            if "NoncurrentVersionExpiration" in r:
                days = int(r["NoncurrentVersionExpiration"]["NoncurrentDays"])
                rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
            if "AbortIncompleteMultipartUpload" in r:
                days = int(r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
                rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
            rules.append(rule)
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    queues = props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
    if queues:
        config = {
            "QueueConfigurations": [
                {
                    "QueueArn": q["Queue"],
                    "Events": [q["Event"]],
                    **({"Filter": q["Filter"]} if "Filter" in q else {}),
                }
                for q in queues
            ]
        }
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=config)


_original_bucket_create = FakeBucket.create_from_cloudformation_json


def _create_bucket(
    resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
) -> FakeBucket:
    bucket: FakeBucket = _original_bucket_create(
        resource_name, cloudformation_json, account_id, region_name, **kwargs
    )
    _apply_bucket_properties(bucket.name, _compact(cloudformation_json.get("Properties", {})), region_name)
    return bucket


MODELS: tuple[type[CloudFormationModel], ...] = (
    BucketPolicy,
    QueuePolicy,
    TopicPolicy,
    Subscription,
    Alarm,
    Repository,
    BuildProject,
    Pipeline,
)


def install(endpoint: str) -> None:
    """Register the models in this process; boto3 calls go to ``endpoint``."""
    _ENDPOINT["url"] = endpoint
    FakeBucket.create_from_cloudformation_json = _create_bucket  # type: ignore[method-assign]
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    missing = {m.cloudformation_type() for m in MODELS} - set(parsing.get_model_map())
    if missing:  # a moto upgrade changed how models are found
        raise RuntimeError(f"moto did not register the CloudFormation models for {sorted(missing)}")
