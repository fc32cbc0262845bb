"""The no-``*`` rule on the SDK deployment's identity policies, and its exceptions: Resource "*" only
for the actions of gtlocal.deploy.RESOURCE_STAR_EXCEPTIONS, each in its named statement, and each an
action the Service Authorization Reference gives no resource type (so nothing narrower can allow
it). Terraform and CloudFormation deploy the same statements (tests/integration/terraform compares
the three; tests/unit/cloudformation checks the templates with the same list)."""

from __future__ import annotations

from typing import Any

import pytest

from gtlocal.deploy import (
    RESOURCE_STAR_EXCEPTIONS,
    Names,
    groundtruth_policy,
    lambda_policies,
    operator_policy,
)
from gtlocal.iam.reference import action_resource_types

NAMES = Names("cats", "123456789012", "us-east-1")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policies() -> dict[str, dict[str, Any]]:
    custom = ["arn:aws:lambda:us-east-1:123456789012:function:cats-pre"]
    return {
        "groundtruth": groundtruth_policy(NAMES, custom),
        **lambda_policies(NAMES),
        "operator": operator_policy(NAMES),
    }


@pytest.mark.parametrize("action", sorted(RESOURCE_STAR_EXCEPTIONS))
def test_each_exception_is_an_action_without_a_resource_type(action: str) -> None:
    assert action_resource_types(action) == [], f"{action} has a resource type: scope it"


def test_no_allow_has_a_wildcard_but_the_listed_exceptions_in_their_statements() -> None:
    granted_on_star: dict[str, str] = {}
    for role, document in policies().items():
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow", role
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{role} {statement['Sid']}: {action}"
            for resource in as_list(statement["Resource"]):
                if "*" not in resource:
                    continue
                if resource == "*":
                    for action in as_list(statement["Action"]):
                        assert action in RESOURCE_STAR_EXCEPTIONS, f"{role} {statement['Sid']}: {action} on *"
                        assert statement["Sid"] == RESOURCE_STAR_EXCEPTIONS[action][0], role
                        granted_on_star[action] = statement["Sid"]
                else:  # a wildcard inside an ARN: only under a named bucket or log group
                    assert resource.endswith(("/*", ":*")), f"{role} {statement['Sid']}: {resource}"
    # Every exception is used (a stale one would be a licence nobody needs).
    assert granted_on_star == {action: sid for action, (sid, _) in RESOURCE_STAR_EXCEPTIONS.items()}


def test_a_statement_naming_topics_would_not_allow_unsubscribe() -> None:
    from gtlocal.iam.policy import AuthzRequest, Caller, evaluate, parse_policy

    role = "arn:aws:iam::123456789012:role/cats-groundtruth"
    caller = Caller(
        "role",
        "arn:aws:sts::123456789012:assumed-role/cats-groundtruth/SageMaker",
        "123456789012",
        role,
        "cats-groundtruth",
    )
    topics = [NAMES.topic_arn("input"), NAMES.topic_arn("output")]
    scoped = {"Statement": [{"Effect": "Allow", "Action": "sns:Unsubscribe", "Resource": topics}]}
    # The request an Unsubscribe is authorized as (src/gtlocal/iam/requests.py): Resource "*".
    request = AuthzRequest("sns:Unsubscribe", "*")
    assert not evaluate(request, caller, [parse_policy(scoped, "scoped")]).allowed
    assert evaluate(request, caller, [parse_policy(groundtruth_policy(NAMES), "deployed")]).allowed
