"""Deliveries by AWS service principals happen only when AWS would allow them.

moto delivers S3 event notifications, EventBridge rule targets and SNS subscriptions to SQS queues
inside its backends, without asking any policy. ``install()`` (called by ``gtlocal.shims.apply``)
wraps those places so that, while IAM enforcement is on, each delivery is authorized first:

- the target's resource policy must allow the service principal (``s3.amazonaws.com``,
  ``events.amazonaws.com``, ``sns.amazonaws.com``, ``cloudwatch.amazonaws.com``) the action
  (``sqs:SendMessage`` / ``sns:Publish``), with ``aws:SourceArn`` (bucket / rule / topic / alarm
  ARN) and ``aws:SourceAccount`` in the request context
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html,
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions,
  https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html);
- where the target is encrypted with a KMS key, that key's policy must allow the service principal
  ``kms:GenerateDataKey`` and ``kms:Decrypt`` (SQS: "Enable compatibility between AWS services and
  encrypted queues", sqs-key-management.html; SNS: "Enable compatibility between event sources from
  AWS services and encrypted topics", sns-key-management.html). An AWS managed key
  (``alias/aws/sqs``, ``alias/aws/sns``) never allows a service principal: its policy only admits
  principals of the account calling through the service, and it cannot be changed.

A denied delivery is dropped, as AWS drops it (S3, SNS and EventBridge retry and give up; none tells
the sender), logged on ``gtlocal.iam`` and recorded (``kind: "delivery"``).

S3 checks its queue destinations when the configuration is set: ``PutBucketNotificationConfiguration``
(for every caller, root included) fails with ``InvalidArgument`` "Unable to validate the following
destination configurations" when a destination queue does not exist or its policy (or key) does not
let S3 send from this bucket
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html,
https://repost.aws/knowledge-center/unable-validate-destination-s3). So a template or module that sets
the notification before the queue policy exists fails as it would on AWS.

CloudWatch alarm actions: moto stores ``AlarmActions`` / ``OKActions`` but never acts. Here a state
change (``SetAlarmState``; moto computes no state from metrics) publishes the alarm notification to
each SNS topic of the new state's actions, when the topic policy allows ``cloudwatch.amazonaws.com``
``sns:Publish`` and the topic's KMS key (if any) allows it ``kms:GenerateDataKey*`` / ``kms:Decrypt``
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from gtlocal.iam import resources
from gtlocal.iam.policy import AuthzRequest, Decision, evaluate, service_caller

LOG = logging.getLogger("gtlocal.iam")

_installed = False
_lock = threading.Lock()


def _enforcing() -> Any:
    from gtlocal.iam.enforce import current

    enforcer = current()
    return enforcer if enforcer is not None and enforcer.enforcing else None


def delivery_allowed(
    service: str,
    action: str,
    target_arn: str,
    source_arn: str,
    source_account: str,
    kms_key_id: str | None,
    encryption_context: dict[str, str],
    operation: str,
) -> bool:
    """Authorize one delivery (resource policy, then the target's KMS key); record and log it."""
    enforcer = _enforcing()
    if enforcer is None:
        return True
    parts = target_arn.split(":")
    region, account = parts[3], parts[4]
    caller = service_caller(service, account)
    context: dict[str, tuple[str, ...]] = {
        "aws:sourcearn": (source_arn,),
        "aws:sourceaccount": (source_account,),
        "aws:securetransport": ("true",),
        "aws:principalservicename": (service,),
    }
    if target_arn.split(":")[2] == "sqs":
        policy = resources.queue_policy(account, region, parts[5])
    else:
        policy = resources.topic_policy(account, region, target_arn)
    call_id = str(uuid.uuid4())
    request = AuthzRequest(action, target_arn, context)
    decision = evaluate(request, caller, (), policy)
    decisions = [(decision, request)]
    if decision.allowed and kms_key_id:
        key = resources.kms_key(account, region, kms_key_id)
        if key is not None:
            kms_context: dict[str, tuple[str, ...]] = {"aws:principalservicename": (service,)}
            # Whether KMS sees the delivery's source is a setting (``kms_source_context``, default on):
            # the KMS key policy examples of S3, SNS and CloudWatch condition on aws:SourceAccount /
            # aws:SourceArn; for EventBridge -> encrypted SQS we found no AWS page saying either way.
            if enforcer.kms_source_context:
                kms_context["aws:sourcearn"] = (source_arn,)
                kms_context["aws:sourceaccount"] = (source_account,)
            for name, value in encryption_context.items():
                kms_context[f"kms:encryptioncontext:{name}".lower()] = (value,)
            if encryption_context:
                kms_context["kms:encryptioncontextkeys"] = tuple(encryption_context)
            for kms_action in ("kms:GenerateDataKey", "kms:Decrypt"):
                kms_request = AuthzRequest(kms_action, key.arn, kms_context)
                kms_decision = evaluate(kms_request, caller, (), key.policy, required_resource_policy=True)
                if not kms_decision.allowed and key.aws_managed:
                    kms_decision = Decision(
                        False,
                        "implicit-deny",
                        kms_action,
                        key.arn,
                        detail=f"resource-based policy (the AWS managed key alias/aws/{key.aws_managed})",
                    )
                decisions.append((kms_decision, kms_request))
                if not kms_decision.allowed:
                    break
    allowed = True
    for each, req in decisions:
        enforcer.recorder.record("delivery", call_id, operation, caller, each, req.context)
        if not each.allowed:
            allowed = False
            LOG.warning("IAM: delivery dropped: %s (from %s)", each.message(caller), source_arn)
    return allowed


def install() -> None:
    """Wrap moto's internal deliveries (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        _patch_s3_notifications()
        _patch_s3_notification_validation()
        _patch_events_sqs_targets()
        _patch_sns_sqs_subscriptions()
        _patch_cloudwatch_alarm_actions()
        _installed = True


def _queue_key(account: str, region: str, name: str) -> str | None:
    return resources.queue_kms_key(account, region, name)


# --- S3 -> SQS ------------------------------------------------------------------------------------


def _patch_s3_notifications() -> None:
    from moto.s3 import notifications

    original = notifications._send_sqs_message

    def send_sqs_message(account_id: str, event_body: Any, queue_name: str, region_name: str) -> None:
        records = event_body.get("Records") if isinstance(event_body, dict) else None
        if records:
            bucket_arn = records[0]["s3"]["bucket"]["arn"]
        else:  # s3:TestEvent
            bucket_arn = (
                f"arn:aws:s3:::{event_body.get('Bucket', '')}" if isinstance(event_body, dict) else ""
            )
        queue_arn = f"arn:aws:sqs:{region_name}:{account_id}:{queue_name}"
        key_id = _queue_key(account_id, region_name, queue_name)
        if delivery_allowed(
            "s3.amazonaws.com",
            "sqs:SendMessage",
            queue_arn,
            bucket_arn,
            account_id,
            key_id,
            {"aws:sqs:arn": queue_arn},
            "s3:EventNotification",
        ):
            original(account_id, event_body, queue_name, region_name)

    notifications._send_sqs_message = send_sqs_message


def _patch_s3_notification_validation() -> None:
    from moto.s3.exceptions import InvalidArgumentError
    from moto.s3.models import FakeBucket, NotificationConfiguration

    original = FakeBucket.set_notification_configuration

    def set_notification_configuration(self: FakeBucket, notification_config: dict[str, Any] | None) -> None:
        if notification_config and _enforcing() is not None:
            queues = NotificationConfiguration(queue=notification_config.get("QueueConfiguration")).queue
            for arn in sorted({q.arn for q in queues}):
                parts = arn.split(":")
                region, account, name = (parts[3], parts[4], parts[5]) if len(parts) == 6 else ("", "", "")
                if resources.sqs_queue(account, region, name) is None:
                    problem = "The destination queue does not exist"
                elif delivery_allowed(
                    "s3.amazonaws.com",
                    "sqs:SendMessage",
                    arn,
                    f"arn:{resources._partition(region)}:s3:::{self.name}",
                    self.account_id,
                    _queue_key(account, region, name),
                    {"aws:sqs:arn": arn},
                    "s3:PutBucketNotificationConfiguration",
                ):
                    continue
                else:
                    problem = (
                        "Permissions on the destination queue do not allow S3 to publish notifications "
                        "from this bucket"
                    )
                raise InvalidArgumentError(
                    "Unable to validate the following destination configurations", arn, problem
                )
        original(self, notification_config)

    FakeBucket.set_notification_configuration = set_notification_configuration  # type: ignore[method-assign]


# --- EventBridge -> SQS ---------------------------------------------------------------------------


def _patch_events_sqs_targets() -> None:
    from moto.events.models import Rule

    original = Rule._send_to_sqs_queue

    def send_to_sqs_queue(
        self: Rule, resource_id: str, event: dict[str, Any], group_id: str | None = None
    ) -> None:
        queue_arn = f"arn:aws:sqs:{self.region_name}:{self.account_id}:{resource_id}"
        key_id = _queue_key(self.account_id, self.region_name, resource_id)
        if delivery_allowed(
            "events.amazonaws.com",
            "sqs:SendMessage",
            queue_arn,
            self.arn,
            self.account_id,
            key_id,
            {"aws:sqs:arn": queue_arn},
            "events:RuleTarget",
        ):
            original(self, resource_id, event, group_id)

    Rule._send_to_sqs_queue = send_to_sqs_queue  # type: ignore[method-assign]


# --- SNS -> SQS -----------------------------------------------------------------------------------


def _patch_sns_sqs_subscriptions() -> None:
    from moto.sns.models import Subscription

    original = Subscription.publish

    def publish(self: Subscription, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
        if self.protocol == "sqs":
            queue_arn = self.endpoint
            parts = queue_arn.split(":")
            key_id = _queue_key(parts[4], parts[3], parts[5]) if len(parts) == 6 else None
            if not delivery_allowed(
                "sns.amazonaws.com",
                "sqs:SendMessage",
                queue_arn,
                self.topic.arn,
                self.topic.account_id,
                key_id,
                {"aws:sqs:arn": queue_arn},
                "sns:Subscription",
            ):
                return
        original(self, message, message_id, *args, **kwargs)

    Subscription.publish = publish  # type: ignore[method-assign]


# --- CloudWatch alarm -> SNS ----------------------------------------------------------------------


def _alarm_message(alarm: Any, account: str, old_state: str) -> str:
    return json.dumps(
        {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "AWSAccountId": account,
            "AlarmConfigurationUpdatedTimestamp": alarm.configuration_updated_timestamp.isoformat(),
            "NewStateValue": alarm.state_value,
            "NewStateReason": alarm.state_reason,
            "StateChangeTime": datetime.now(UTC).isoformat(),
            "Region": alarm.region_name,
            "AlarmArn": alarm.alarm_arn,
            "OldStateValue": old_state,
            "Trigger": {
                "MetricName": alarm.metric_name,
                "Namespace": alarm.namespace,
                "Statistic": alarm.statistic,
                "Period": alarm.period,
                "EvaluationPeriods": alarm.evaluation_periods,
                "ComparisonOperator": alarm.comparison_operator,
                "Threshold": alarm.threshold,
            },
        }
    )


def publish_alarm_actions(alarm: Any, old_state: str) -> list[str]:
    """Publish the notification of ``alarm``'s new state to its SNS actions; the topics reached."""
    from moto.sns.models import sns_backends

    if not alarm.actions_enabled or alarm.state_value == old_state:
        return []
    actions = {
        "ALARM": alarm.alarm_actions,
        "OK": alarm.ok_actions,
        "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
    }.get(alarm.state_value, [])
    account = alarm.alarm_arn.split(":")[4]
    reached = []
    for topic_arn in actions or []:
        parts = topic_arn.split(":")
        if len(parts) != 6 or parts[2] != "sns":
            continue  # Auto Scaling / EC2 / Systems Manager actions are not modelled
        topic_account, region = parts[4], parts[3]
        if resources.sns_topic(topic_account, region, topic_arn) is None:
            LOG.warning("IAM: alarm %s: action topic %s does not exist", alarm.name, topic_arn)
            continue
        key_id = resources.topic_kms_key(topic_account, region, topic_arn)
        if not delivery_allowed(
            "cloudwatch.amazonaws.com",
            "sns:Publish",
            topic_arn,
            alarm.alarm_arn,
            account,
            key_id,
            {},
            "cloudwatch:AlarmAction",
        ):
            continue
        subject = f'{alarm.state_value}: "{alarm.name}" in {region}'[:100]
        sns_backends[topic_account][region].publish(
            _alarm_message(alarm, account, old_state), arn=topic_arn, subject=subject
        )
        reached.append(topic_arn)
    return reached


def _patch_cloudwatch_alarm_actions() -> None:
    from moto.cloudwatch.models import Alarm

    original = Alarm.update_state

    def update_state(self: Alarm, reason: str, reason_data: str, state_value: str) -> None:
        old_state = self.state_value
        original(self, reason, reason_data, state_value)
        publish_alarm_actions(self, old_state)  # checked by delivery_allowed while enforcing

    Alarm.update_state = update_state  # type: ignore[method-assign]
