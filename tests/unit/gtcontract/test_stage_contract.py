"""The contract of review stages: the settings, the deployment document's ``stage`` key (agreeing
with the Lambda environment) and the project config's ``review`` rule, each problem one line."""

from __future__ import annotations

import copy

import pytest
from tests.documents import deployment_document, published_config

from gtcontract.deployment import Deployment, DeploymentError
from gtcontract.project_config import ProjectConfig, validate_project_config
from gtcontract.settings import Settings, SettingsError

TOPIC = "arn:aws:sns:us-east-1:123456789012:up-gt-output"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/up-intake"
VERIFY = {
    "task_type": "bounding-box-verification",
    "categories": ["good", "bad"],
    "audit_label_attribute_name": "boxes",
}


def test_stage_settings_are_optional_and_checked() -> None:
    env = dict(deployment_document()["lambda_environment"])
    plain = Settings.from_env(env)
    assert (plain.upstream_output_topic_arn, plain.rejected_queue_url, plain.max_review_rounds) == (
        None,
        None,
        3,
    )
    staged = Settings.from_env(
        {**env, "UPSTREAM_OUTPUT_TOPIC_ARN": TOPIC, "REJECTED_QUEUE_URL": QUEUE, "MAX_REVIEW_ROUNDS": "2"}
    )
    assert (staged.upstream_output_topic_arn, staged.rejected_queue_url, staged.max_review_rounds) == (
        TOPIC,
        QUEUE,
        2,
    )
    with pytest.raises(SettingsError) as bad:
        Settings.from_env(
            {**env, "UPSTREAM_OUTPUT_TOPIC_ARN": "up", "REJECTED_QUEUE_URL": "q", "MAX_REVIEW_ROUNDS": "0"}
        )
    assert "UPSTREAM_OUTPUT_TOPIC_ARN='up' is not a valid ARN" in str(bad.value)
    assert "REJECTED_QUEUE_URL='q' is not a valid SQS queue URL" in str(bad.value)
    assert "MAX_REVIEW_ROUNDS=0 must be >= 1" in str(bad.value)


def test_the_stage_key_must_agree_with_the_lambda_environment() -> None:
    document = deployment_document()
    assert Deployment.from_document(document).stage == {
        "upstream_output_topic_arn": None,
        "rejected_queue_url": None,
    }
    from_env = copy.deepcopy(document)
    from_env["lambda_environment"]["REJECTED_QUEUE_URL"] = QUEUE
    assert Deployment.from_document(from_env).stage["rejected_queue_url"] == QUEUE  # no key: the environment
    staged = copy.deepcopy(document)
    staged["stage"] = {"upstream_output_topic_arn": TOPIC, "rejected_queue_url": None}
    staged["lambda_environment"]["UPSTREAM_OUTPUT_TOPIC_ARN"] = TOPIC
    assert Deployment.from_document(staged).stage["upstream_output_topic_arn"] == TOPIC
    staged["lambda_environment"]["REJECTED_QUEUE_URL"] = QUEUE
    with pytest.raises(
        DeploymentError, match=r"lambda_environment\.REJECTED_QUEUE_URL: .* differs from stage"
    ):
        Deployment.from_document(staged)
    staged["stage"]["rejected_queue_url"] = "not a url"
    with pytest.raises(DeploymentError, match=r"stage\.rejected_queue_url"):
        Deployment.from_document(staged)


def test_the_review_rule_is_for_review_task_types_with_their_answers() -> None:
    rule = {"accept": ["good"], "on_reject": "relabel"}
    config = ProjectConfig.parse(published_config(**VERIFY, label_attribute_name="verdict", review=rule))
    assert config.review_accept == ("good",) and config.review_on_reject == "relabel"
    assert config.review_verdict({"class-name": "good"}) == "accepted"
    assert config.review_verdict({"class-name": "bad"}) == "rejected"
    assert (
        ProjectConfig.parse(published_config(**VERIFY, label_attribute_name="v")).review_verdict({}) is None
    )

    def problems(**changes: object) -> list[str]:
        return [str(p) for p in validate_project_config(published_config(**changes), published=True)]

    assert problems(review=rule) == [
        "review: only review task types take a review rule, not image-classification; write null"
    ]
    assert problems(
        **VERIFY, label_attribute_name="v", review={"accept": ["ok"], "on_reject": "relabel"}
    ) == ['review.accept[0]: "ok" is not an answer of bounding-box-verification; write one of "good", "bad"']
    assert problems(
        **VERIFY, label_attribute_name="v", review={"accept": ["good", "bad"], "on_reject": "relabel"}
    ) == ["review.accept: every answer accepts, so nothing is ever rejected; leave one out"]
    assert [
        p.split(":")[0]
        for p in problems(
            **VERIFY, label_attribute_name="v", review={"accept": ["good"], "on_reject": "adjust"}
        )
    ] == ["review.on_reject"]
    adjust = {
        "task_type": "bounding-box-adjustment",
        "categories": ["cat"],
        "audit_label_attribute_name": "boxes",
    }
    parsed = ProjectConfig.parse(
        published_config(
            **adjust,
            label_attribute_name="adjusted",
            review={"accept": ["unadjusted"], "on_reject": "relabel"},
        )
    )
    assert parsed.review_verdict({"adjustment-status": "adjusted"}) == "rejected"


def _allows(policy: dict[str, object]) -> list[dict[str, object]]:
    return [s for s in policy["Statement"] if s["Effect"] == "Allow"]  # type: ignore[attr-defined, index]


def test_the_sdk_deployment_wires_a_stage_with_least_privilege(aws: None) -> None:
    import json

    import boto3

    from gtlocal.deploy import Stage, deploy_project

    up = deploy_project("up", region="us-east-1")
    down = deploy_project("up-verify", region="us-east-1", stage=Stage.after(up))
    dep = Deployment.from_document(down, "gtlocal deploy")
    assert dep.stage == {
        "upstream_output_topic_arn": up["topics"]["output"],
        "rejected_queue_url": up["queues"]["intake"]["url"],
    }
    assert dep.settings.rejected_queue_url == up["queues"]["intake"]["url"]
    # The upstream's output topic feeds the downstream's intake queue, raw, and only that topic may.
    sns, sqs, iam = (boto3.client(s, region_name="us-east-1") for s in ("sns", "sqs", "iam"))
    [feed] = [
        s
        for s in sns.list_subscriptions_by_topic(TopicArn=up["topics"]["output"])["Subscriptions"]
        if s["Endpoint"] == down["queues"]["intake"]["arn"]
    ]
    attributes = sns.get_subscription_attributes(SubscriptionArn=feed["SubscriptionArn"])["Attributes"]
    assert attributes["RawMessageDelivery"] == "true"
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=down["queues"]["intake"]["url"], AttributeNames=["Policy"])[
            "Attributes"
        ]["Policy"]
    )
    [upstream] = [s for s in _allows(policy) if s["Sid"] == "AllowUpstreamOutputTopic"]
    assert upstream["Condition"] == {"ArnEquals": {"aws:SourceArn": up["topics"]["output"]}}
    # The functions that decide may send to the rejected queue (that queue only); the labels
    # function reads the object and the config; Ground Truth reads the upstream's images.
    for function in ("labels", "intake", "job_events", "reconcile"):
        role = down["lambda_roles"][function].rsplit("/", 1)[1]
        doc = iam.get_role_policy(RoleName=role, PolicyName="least-privilege")["PolicyDocument"]
        [rejected] = [s for s in _allows(doc) if s["Sid"] == "RejectedQueue"]
        assert rejected["Action"] == ["sqs:SendMessage"] and rejected["Resource"] == [
            up["queues"]["intake"]["arn"]
        ]
        assert all("*" not in str(s["Action"]) for s in _allows(doc))
    labels = iam.get_role_policy(
        RoleName=down["lambda_roles"]["labels"].rsplit("/", 1)[1], PolicyName="least-privilege"
    )
    assert {"LedgerReadObject", "ProjectConfig", "InstructionsList"} <= {
        s["Sid"] for s in _allows(labels["PolicyDocument"])
    }
    gt = iam.get_role_policy(
        RoleName=down["groundtruth_role_arn"].rsplit("/", 1)[1], PolicyName="groundtruth-streaming"
    )
    [images] = [s for s in _allows(gt["PolicyDocument"]) if s["Sid"] == "UpstreamImages"]
    assert images["Resource"] == [f"arn:aws:s3:::{up['buckets']['input']}/images/*"]
    # A project of one stage is wired as before: no stage statement anywhere.
    plain = iam.get_role_policy(
        RoleName=up["lambda_roles"]["labels"].rsplit("/", 1)[1], PolicyName="least-privilege"
    )
    assert {s["Sid"] for s in _allows(plain["PolicyDocument"])} & {
        "RejectedQueue",
        "LedgerReadObject",
    } == set()
    assert "stage" not in up


def test_a_failed_object_is_held_by_review_only_below_the_failure_limit() -> None:
    """One rule for the chain's stop reason and both audits: rejected_by (Ledger.reopen_rejected)
    and a failure count under the limit; an object rejected in an earlier round that then failed in
    every job is held by the failure limit."""
    from gtcontract.states import held_by_review

    assert held_by_review({"rejected_by": "p-verify", "failure_count": 0}, 3)
    assert not held_by_review({"rejected_by": "p-verify", "failure_count": 3}, 3)
    assert not held_by_review({"failure_count": 3}, 3)
    assert not held_by_review({}, 3)
