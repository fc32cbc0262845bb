"""The IAM policy evaluator, rule by rule. Each row names the AWS rule it shows (IAM User Guide page).

Pages: EVAL = reference_policies_evaluation-logic_policy-eval-basics.html, OPS =
reference_policies_elements_condition_operators.html, MULTI =
reference_policies_condition-logic-multiple-context-keys-or-values.html, ACTION / RESOURCE /
PRINCIPAL = reference_policies_elements_{action,resource,principal}.html, KMS =
https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html.
"""

from __future__ import annotations

from typing import Any

import pytest

from gtlocal.iam.policy import (
    AuthzRequest,
    Caller,
    Condition,
    PolicyError,
    evaluate,
    parse_policy,
    resource_match,
    service_caller,
)

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/worker"
SESSION = Caller("role", f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/s1", ACCOUNT, ROLE_ARN, "worker")
OTHER_SESSION = Caller(
    "role",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/other/s1",
    ACCOUNT,
    f"arn:aws:iam::{ACCOUNT}:role/other",
    "other",
)
ROOT = Caller("root", f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"


def policy(*statements: dict[str, Any], name: str = "p") -> Any:
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)}, name)


def allow(action: Any = "sqs:SendMessage", resource: Any = QUEUE, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "sqs:SendMessage", resource: Any = QUEUE, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(
    identity: list[Any], request: AuthzRequest | None = None, caller: Caller = SESSION, **kw: Any
) -> Any:
    return evaluate(request or AuthzRequest("sqs:SendMessage", QUEUE), caller, identity, **kw)


# --- deny precedence, implicit deny, root ------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "identity", "allowed", "reason"),
    [
        ("EVAL: no policy allows -> implicit deny", [], False, "implicit-deny"),
        ("EVAL: an Allow allows", [policy(allow())], True, "allowed"),
        ("EVAL: an explicit Deny overrides an Allow", [policy(allow(), deny())], False, "explicit-deny"),
        (
            "EVAL: a Deny in another policy still wins",
            [policy(allow()), policy(deny(), name="q")],
            False,
            "explicit-deny",
        ),
        (
            "EVAL: a Deny on another resource does not apply",
            [policy(allow(), deny(resource=QUEUE + "-x"))],
            True,
            "allowed",
        ),
    ],
)
def test_identity_policy_evaluation(rule: str, identity: list[Any], allowed: bool, reason: str) -> None:
    decision = decide(identity)
    assert (decision.allowed, decision.reason) == (allowed, reason), rule


def test_the_decision_names_the_statements_that_decided() -> None:
    identity = [policy({**allow(), "Sid": "Send"}, name="worker-policy")]
    decision = decide(identity)
    assert [(r.policy, r.sid, r.effect) for r in decision.allowed_by] == [("worker-policy", "Send", "Allow")]
    denied = decide([policy({**allow(), "Sid": "Send"}, {**deny(), "Sid": "NoSend"}, name="p")])
    assert [r.sid for r in denied.denied_by] == ["NoSend"]
    assert denied.message(SESSION) == (
        f"User: {SESSION.arn} is not authorized to perform: sqs:SendMessage on resource: {QUEUE} "
        "with an explicit deny in an identity-based policy"
    )
    assert decide([]).message(SESSION) == (
        f"User: {SESSION.arn} is not authorized to perform: sqs:SendMessage on resource: {QUEUE} "
        "because no identity-based policy allows the sqs:SendMessage action"
    )


def test_root_is_not_restricted() -> None:
    # EVAL (policy-eval-denyallow): requests are implicitly denied "with the exception of the AWS
    # account root user, which has full access".
    assert decide([], caller=ROOT).allowed


# --- Action / NotAction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "statement", "action", "allowed"),
    [
        ("ACTION: names are case-insensitive", allow("SQS:sendmessage"), "sqs:SendMessage", True),
        ("ACTION: * matches any run of characters", allow("sqs:Send*"), "sqs:SendMessage", True),
        ("ACTION: ? matches exactly one character", allow("sqs:SendMessag?"), "sqs:SendMessage", True),
        ("ACTION: ? does not match two characters", allow("sqs:SendMessa?"), "sqs:SendMessage", False),
        ("ACTION: the service prefix must match", allow("sns:SendMessage"), "sqs:SendMessage", False),
        (
            "ACTION: a list is any of",
            allow(["sqs:ReceiveMessage", "sqs:SendMessage"]),
            "sqs:SendMessage",
            True,
        ),
        (
            "ACTION: NotAction allows everything but what it lists",
            {"Effect": "Allow", "NotAction": "sqs:Delete*", "Resource": QUEUE},
            "sqs:SendMessage",
            True,
        ),
        (
            "ACTION: NotAction does not allow what it lists",
            {"Effect": "Allow", "NotAction": "sqs:Send*", "Resource": QUEUE},
            "sqs:SendMessage",
            False,
        ),
    ],
)
def test_action_matching(rule: str, statement: dict[str, Any], action: str, allowed: bool) -> None:
    assert decide([policy(statement)], AuthzRequest(action, QUEUE)).allowed is allowed, rule


# --- Resource / NotResource ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "pattern", "arn", "matches"),
    [
        ("RESOURCE: * alone is every resource", "*", QUEUE, True),
        ("RESOURCE: ARNs are case-sensitive", QUEUE.upper(), QUEUE, False),
        (
            "RESOURCE: * in the resource part",
            "arn:aws:s3:::bucket/in/*",
            "arn:aws:s3:::bucket/in/a/b.png",
            True,
        ),
        ("RESOURCE: ? is one character", f"arn:aws:sqs:*:{ACCOUNT}:job?", QUEUE, True),
        ("RESOURCE: ? is not two", f"arn:aws:sqs:*:{ACCOUNT}:jo?", QUEUE, False),
        ("RESOURCE: * for a whole segment", f"arn:aws:sqs:*:{ACCOUNT}:jobs", QUEUE, True),
        (
            "RESOURCE: a wildcard inside a segment stays in it",
            "arn:aws:sqs:us-*-1:123456789012:jobs",
            "arn:aws:sqs:us-east:x-1:123456789012:jobs",
            False,
        ),
        (
            "RESOURCE: a prefix-with-dash pattern also reaches a longer project (why <prefix>-???? matters)",
            f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:labeling-job/cats-*",
            f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:labeling-job/cats-v2-0001",
            True,
        ),
        (
            "RESOURCE: ? counts characters exactly",
            f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:labeling-job/cats-????",
            f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:labeling-job/cats-v2-0001",
            False,
        ),
        (
            "RESOURCE: log streams are under the log group",
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/fn:*",
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/fn:log-stream:2026/1",
            True,
        ),
    ],
)
def test_resource_matching(rule: str, pattern: str, arn: str, matches: bool) -> None:
    assert resource_match(pattern, arn) is matches, rule


def test_not_resource_allows_everything_but_what_it_lists() -> None:
    statement = {
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "NotResource": f"arn:aws:sqs:*:{ACCOUNT}:secret-*",
    }
    assert decide([policy(statement)]).allowed  # RESOURCE: NotResource
    secret = AuthzRequest("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:secret-1")
    assert not decide([policy(statement)], secret).allowed


def test_policy_variables_in_resources() -> None:
    statement = allow(resource="arn:aws:sqs:us-east-1:${aws:PrincipalAccount}:jobs")
    request = AuthzRequest("sqs:SendMessage", QUEUE, {"aws:principalaccount": (ACCOUNT,)})
    assert decide([policy(statement)], request).allowed
    # reference_policies_variables.html: a variable with no value in the request does not match
    assert not decide([policy(statement)], AuthzRequest("sqs:SendMessage", QUEUE)).allowed


# --- conditions ---------------------------------------------------------------------------------


def holds(operator: str, key: str, values: Any, context: dict[str, tuple[str, ...]]) -> bool:
    return Condition.parse(operator, key, values).holds(context)


SRC = "aws:sourcearn"
RULE = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/jobs"


@pytest.mark.parametrize(
    ("rule", "operator", "key", "values", "context", "expected"),
    [
        (
            "OPS: StringEquals exact",
            "StringEquals",
            "aws:SourceAccount",
            ACCOUNT,
            {"aws:sourceaccount": (ACCOUNT,)},
            True,
        ),
        ("OPS: StringEquals is case-sensitive", "StringEquals", "k", "Abc", {"k": ("abc",)}, False),
        ("OPS: StringEqualsIgnoreCase", "StringEqualsIgnoreCase", "k", "Abc", {"k": ("abc",)}, True),
        ("OPS: StringNotEquals", "StringNotEquals", "k", "a", {"k": ("b",)}, True),
        ("OPS: StringNotEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "k", "A", {"k": ("a",)}, False),
        ("OPS: StringLike *", "StringLike", "s3:prefix", "in/*", {"s3:prefix": ("in/a/b",)}, True),
        ("OPS: StringLike ?", "StringLike", "k", "a?c", {"k": ("abc",)}, True),
        ("OPS: StringNotLike", "StringNotLike", "k", "a*", {"k": ("abc",)}, False),
        ("OPS: ArnEquals", "ArnEquals", "aws:SourceArn", RULE, {SRC: (RULE,)}, True),
        (
            "OPS: ArnLike per segment",
            "ArnLike",
            "aws:SourceArn",
            "arn:aws:events:*:*:rule/j*",
            {SRC: (RULE,)},
            True,
        ),
        ("OPS: ArnLike wrong service", "ArnLike", "aws:SourceArn", "arn:aws:s3:::*", {SRC: (RULE,)}, False),
        ("OPS: ArnNotEquals", "ArnNotEquals", "aws:SourceArn", RULE, {SRC: (RULE + "x",)}, True),
        (
            "OPS: ArnNotLike",
            "ArnNotLike",
            "aws:SourceArn",
            "arn:aws:events:*:*:rule/*",
            {SRC: (RULE,)},
            False,
        ),
        ("OPS: Bool true", "Bool", "aws:SecureTransport", "true", {"aws:securetransport": ("true",)}, True),
        (
            "OPS: Bool false vs true",
            "Bool",
            "aws:SecureTransport",
            "false",
            {"aws:securetransport": ("true",)},
            False,
        ),
        (
            "OPS: Bool takes a JSON boolean",
            "Bool",
            "aws:SecureTransport",
            False,
            {"aws:securetransport": ("false",)},
            True,
        ),
        ("OPS: NumericLessThan", "NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": ("5",)}, True),
        ("OPS: NumericGreaterThanEquals", "NumericGreaterThanEquals", "n", "10", {"n": ("10",)}, True),
        ("OPS: NumericEquals not a number", "NumericEquals", "n", "10", {"n": ("x",)}, False),
        ("OPS: NumericNotEquals", "NumericNotEquals", "n", "10", {"n": ("11",)}, True),
        (
            "OPS: DateLessThan",
            "DateLessThan",
            "aws:CurrentTime",
            "2030-01-01T00:00:00Z",
            {"aws:currenttime": ("2026-11-28T00:00:00Z",)},
            True,
        ),
        (
            "OPS: DateGreaterThan epoch",
            "DateGreaterThan",
            "aws:EpochTime",
            "1000",
            {"aws:epochtime": ("2000",)},
            True,
        ),
        (
            "OPS: IpAddress CIDR",
            "IpAddress",
            "aws:SourceIp",
            "10.0.0.0/8",
            {"aws:sourceip": ("10.1.2.3",)},
            True,
        ),
        (
            "OPS: NotIpAddress",
            "NotIpAddress",
            "aws:SourceIp",
            "10.0.0.0/8",
            {"aws:sourceip": ("10.1.2.3",)},
            False,
        ),
        (
            "OPS: a missing key makes a condition false",
            "StringEquals",
            "aws:SourceAccount",
            ACCOUNT,
            {},
            False,
        ),
        ("OPS: ... except a negated one (true)", "StringNotEquals", "aws:SourceAccount", ACCOUNT, {}, True),
        ("OPS: ...IfExists: missing key -> true", "StringEqualsIfExists", "k", "a", {}, True),
        ("OPS: ...IfExists: present key is tested", "StringEqualsIfExists", "k", "a", {"k": ("b",)}, False),
        ("OPS: Null true = the key is absent", "Null", "aws:SourceArn", "true", {}, True),
        ("OPS: Null true, key present", "Null", "aws:SourceArn", "true", {SRC: (RULE,)}, False),
        ("OPS: Null false = the key is present", "Null", "aws:SourceArn", "false", {SRC: (RULE,)}, True),
        ("MULTI: values of one key are OR-ed", "StringEquals", "k", ["a", "b"], {"k": ("b",)}, True),
        ("MULTI: negated values are NOR-ed", "StringNotEquals", "k", ["a", "b"], {"k": ("b",)}, False),
        ("MULTI: negated values, none matching", "StringNotEquals", "k", ["a", "b"], {"k": ("c",)}, True),
        (
            "MULTI: ForAnyValue: one request value matches",
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            ["a"],
            {"aws:tagkeys": ("a", "b")},
            True,
        ),
        (
            "MULTI: ForAnyValue: none matches",
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            ["c"],
            {"aws:tagkeys": ("a", "b")},
            False,
        ),
        (
            "MULTI: ForAnyValue: missing key -> false",
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            ["a"],
            {},
            False,
        ),
        (
            "MULTI: ForAllValues: every value in the set",
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            ["a", "b", "c"],
            {"aws:tagkeys": ("a", "b")},
            True,
        ),
        (
            "MULTI: ForAllValues: one value outside",
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            ["a"],
            {"aws:tagkeys": ("a", "b")},
            False,
        ),
        (
            "MULTI: ForAllValues: missing key -> true",
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            ["a"],
            {},
            True,
        ),
        (
            "MULTI: ForAllValues:StringNotEquals",
            "ForAllValues:StringNotEquals",
            "aws:TagKeys",
            ["x"],
            {"aws:tagkeys": ("a", "b")},
            True,
        ),
        (
            "OPS: condition keys are case-insensitive",
            "StringEquals",
            "AWS:SOURCEACCOUNT",
            ACCOUNT,
            {"aws:sourceaccount": (ACCOUNT,)},
            True,
        ),
        (
            "OPS: policy variables in values",
            "StringEquals",
            "k",
            "${aws:username}",
            {"k": ("ann",), "aws:username": ("ann",)},
            True,
        ),
    ],
)
def test_condition_operators(
    rule: str, operator: str, key: str, values: Any, context: dict[str, tuple[str, ...]], expected: bool
) -> None:
    assert holds(operator, key, values, context) is expected, rule


def test_operators_and_keys_are_and_ed() -> None:
    # MULTI: "multiple condition operators ... logical AND"; "multiple context keys ... logical AND"
    statement = allow(
        Condition={
            "StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:PrincipalTag/team": "ml"},
            "ArnLike": {"aws:SourceArn": RULE},
        }
    )
    full = {"aws:sourceaccount": (ACCOUNT,), "aws:principaltag/team": ("ml",), SRC: (RULE,)}
    assert decide([policy(statement)], AuthzRequest("sqs:SendMessage", QUEUE, full)).allowed
    for missing in full:
        partial = {k: v for k, v in full.items() if k != missing}
        assert not decide([policy(statement)], AuthzRequest("sqs:SendMessage", QUEUE, partial)).allowed, (
            missing
        )


def test_a_failing_condition_makes_an_allow_not_apply_and_a_deny_not_apply() -> None:
    # moto's IAMPolicy answers DENIED for an Allow whose condition fails; AWS ignores the statement.
    tls_only = deny("sqs:*", Condition={"Bool": {"aws:SecureTransport": "false"}})
    conditional_allow = allow(Condition={"StringEquals": {"aws:SourceAccount": "999999999999"}})
    request = AuthzRequest("sqs:SendMessage", QUEUE, {"aws:securetransport": ("true",)})
    decision = decide([policy(allow(), tls_only, conditional_allow)], request)
    assert decision.allowed and [r.sid for r in decision.allowed_by] == ["#0"]


def test_an_unknown_operator_never_widens_access() -> None:
    unknown_allow = allow(Condition={"StringFancy": {"k": "v"}})
    unknown_deny = deny(Condition={"StringFancy": {"k": "v"}})
    request = AuthzRequest("sqs:SendMessage", QUEUE, {"k": ("v",)})
    assert not decide([policy(unknown_allow)], request).allowed
    assert not decide([policy(allow(), unknown_deny)], request).allowed


# --- resource policies and principals -------------------------------------------------------------


def resource_policy(principal: Any, effect: str = "Allow", **extra: Any) -> Any:
    return policy(
        {"Effect": effect, "Principal": principal, "Action": "sqs:SendMessage", "Resource": QUEUE, **extra}
    )


@pytest.mark.parametrize(
    ("rule", "principal", "caller", "allowed"),
    [
        ("EVAL: same account, the resource policy naming the role allows", {"AWS": ROLE_ARN}, SESSION, True),
        ("PRINCIPAL: naming the session ARN", {"AWS": SESSION.arn}, SESSION, True),
        ("PRINCIPAL: another role is not this one", {"AWS": ROLE_ARN}, OTHER_SESSION, False),
        ("PRINCIPAL: naming the account delegates to IAM (no allow alone)", {"AWS": ACCOUNT}, SESSION, False),
        (
            "PRINCIPAL: the account root ARN, likewise",
            {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            SESSION,
            False,
        ),
        ("PRINCIPAL: * is everyone", "*", SESSION, True),
        ("PRINCIPAL: {AWS: *} is everyone", {"AWS": "*"}, service_caller("s3.amazonaws.com", ACCOUNT), True),
        (
            "PRINCIPAL: a service principal",
            {"Service": "s3.amazonaws.com"},
            service_caller("s3.amazonaws.com", ACCOUNT),
            True,
        ),
        (
            "PRINCIPAL: another service",
            {"Service": "sns.amazonaws.com"},
            service_caller("s3.amazonaws.com", ACCOUNT),
            False,
        ),
        (
            "PRINCIPAL: an IAM principal is not a service",
            {"AWS": ROLE_ARN},
            service_caller("s3.amazonaws.com", ACCOUNT),
            False,
        ),
    ],
)
def test_resource_policy_principals(rule: str, principal: Any, caller: Caller, allowed: bool) -> None:
    decision = evaluate(AuthzRequest("sqs:SendMessage", QUEUE), caller, [], resource_policy(principal))
    assert decision.allowed is allowed, rule


def test_account_principal_with_an_identity_allow_allows() -> None:
    decision = decide([policy(allow())], resource_policy=resource_policy({"AWS": ACCOUNT}))
    assert decision.allowed


def test_deny_in_a_resource_policy_wins_over_an_identity_allow() -> None:
    decision = decide([policy(allow())], resource_policy=resource_policy({"AWS": ACCOUNT}, effect="Deny"))
    assert (decision.allowed, decision.detail) == (False, "a resource-based policy")


def test_not_principal_deny_spares_the_named_role() -> None:
    not_me = policy(
        {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE_ARN}, "Action": "sqs:*", "Resource": QUEUE}
    )
    assert decide([policy(allow())], resource_policy=not_me).allowed
    assert not evaluate(
        AuthzRequest("sqs:SendMessage", QUEUE), OTHER_SESSION, [policy(allow())], not_me
    ).allowed


def test_service_delivery_needs_the_source_conditions_it_is_granted_with() -> None:
    granted = resource_policy(
        {"Service": "events.amazonaws.com"}, Condition={"ArnEquals": {"aws:SourceArn": RULE}}
    )
    events = service_caller("events.amazonaws.com", ACCOUNT)
    right = AuthzRequest("sqs:SendMessage", QUEUE, {SRC: (RULE,)})
    wrong = AuthzRequest("sqs:SendMessage", QUEUE, {SRC: (RULE + "-other",)})
    assert evaluate(right, events, [], granted).allowed
    denied = evaluate(wrong, events, [], granted)
    assert not denied.allowed and "because no resource-based policy allows" in denied.message(events)


def test_cross_account_needs_both_policies() -> None:
    # EVAL (cross-account): the identity policy and the resource policy must both allow.
    other_queue = "arn:aws:sqs:us-east-1:999999999999:jobs"
    request = AuthzRequest("sqs:SendMessage", other_queue)
    rp = parse_policy(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ROLE_ARN},
                    "Action": "sqs:*",
                    "Resource": other_queue,
                }
            ]
        },
        "rp",
    )
    assert not evaluate(request, SESSION, [], rp, resource_account="999999999999").allowed
    identity = [policy(allow(resource=other_queue))]
    assert evaluate(request, SESSION, identity, rp, resource_account="999999999999").allowed
    assert not evaluate(request, SESSION, identity, None, resource_account="999999999999").allowed


# --- KMS key policies and role trust policies (the resource policy must allow) --------------------

KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234"


def key_policy(principal: Any, action: Any = "kms:*", **extra: Any) -> Any:
    return policy(
        {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", **extra}, name="key"
    )


@pytest.mark.parametrize(
    ("rule", "key", "identity", "allowed"),
    [
        (
            "KMS: an IAM allow without the key policy is not enough",
            key_policy({"AWS": "arn:aws:iam::1:root"}),
            [policy(allow("kms:Decrypt", KEY))],
            False,
        ),
        (
            "KMS: the account root in the key policy delegates to IAM: IAM allows",
            key_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
            [policy(allow("kms:Decrypt", KEY))],
            True,
        ),
        (
            "KMS: the account root delegates, IAM does not allow",
            key_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
            [],
            False,
        ),
        (
            "KMS: the key policy naming the role is enough",
            key_policy({"AWS": ROLE_ARN}, "kms:Decrypt"),
            [],
            True,
        ),
        ("KMS: a key policy for another action", key_policy({"AWS": ROLE_ARN}, "kms:Encrypt"), [], False),
    ],
)
def test_kms_key_policy_rule(rule: str, key: Any, identity: list[Any], allowed: bool) -> None:
    decision = evaluate(
        AuthzRequest("kms:Decrypt", KEY), SESSION, identity, key, required_resource_policy=True
    )
    assert decision.allowed is allowed, rule


def test_a_key_policy_delegating_to_the_account_is_named_as_delegated() -> None:
    identity = [policy({**allow("kms:Decrypt", KEY), "Sid": "ProjectKey"}, name="role")]
    root = key_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    delegated = evaluate(
        AuthzRequest("kms:Decrypt", KEY), SESSION, identity, root, required_resource_policy=True
    )
    assert [r.sid for r in delegated.allowed_by] == ["#0", "ProjectKey"]
    assert [(r.policy, r.sid) for r in delegated.delegated_by] == [("key", "#0")]
    direct = key_policy({"AWS": ROLE_ARN}, "kms:Decrypt")
    alone = evaluate(
        AuthzRequest("kms:Decrypt", KEY), SESSION, identity, direct, required_resource_policy=True
    )
    assert alone.allowed and alone.delegated_by == ()


def test_aws_managed_key_shape_admits_the_account_through_the_service_only() -> None:
    from gtlocal.iam.resources import _aws_managed_key_policy

    managed = parse_policy(_aws_managed_key_policy("sns", ACCOUNT, "us-east-1"), "aws/sns")
    via_sns = {"kms:viaservice": ("sns.us-east-1.amazonaws.com",), "kms:calleraccount": (ACCOUNT,)}
    assert evaluate(
        AuthzRequest("kms:GenerateDataKey", KEY, via_sns), SESSION, [], managed, required_resource_policy=True
    ).allowed
    cloudwatch = service_caller("cloudwatch.amazonaws.com", ACCOUNT)
    source = {"aws:sourceaccount": (ACCOUNT,)}
    assert not evaluate(
        AuthzRequest("kms:GenerateDataKey", KEY, source),
        cloudwatch,
        [],
        managed,
        required_resource_policy=True,
    ).allowed


def test_trust_policy_must_allow_the_service() -> None:
    trust = parse_policy(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ]
        },
        "trust",
    )
    request = AuthzRequest("sts:AssumeRole", ROLE_ARN)
    assert evaluate(
        request, service_caller("lambda.amazonaws.com"), [], trust, required_resource_policy=True
    ).allowed
    assert not evaluate(
        request, service_caller("sagemaker.amazonaws.com"), [], trust, required_resource_policy=True
    ).allowed


# --- limits on identity allows -------------------------------------------------------------------


def test_permissions_boundary_and_session_policy_limit_identity_allows() -> None:
    identity = [policy(allow("sqs:*", "*"))]
    boundary = policy(allow("sqs:ReceiveMessage", "*"), name="boundary")
    decision = decide(identity, boundary=boundary)
    assert (decision.allowed, decision.detail) == (False, "permissions boundary")
    session = policy(allow("sqs:ReceiveMessage", "*"), name="session")
    decision = decide(identity, session_policies=[session])
    assert (decision.allowed, decision.detail) == (False, "session policy")
    assert decide(identity, boundary=policy(allow("sqs:SendMessage", QUEUE))).allowed


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        {"Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*", "Resource": "*"}]},
        {"Version": "2012-10-17"},
        {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": ["x"]}]},
    ],
)
def test_invalid_policies_are_refused(document: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        parse_policy(document, "bad")


def test_parsed_policies_are_cached_by_text() -> None:
    text = '{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}'
    assert parse_policy(text, "a") is parse_policy(text, "a")
