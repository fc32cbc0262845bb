"""An IAM policy evaluator for one account: what AWS documents, nothing kinder.

Why our own: moto's ``IAMPolicy`` is too lax for "never kinder than AWS" (a failing condition in
an Allow statement returns DENIED instead of not applying, no ``NotResource``, no ``?`` wildcard,
case-sensitive action names, no resource-policy principals).

The rules implemented, each from the IAM User Guide:
- evaluation within one account (reference_policies_evaluation-logic_policy-eval-basics.html,
  reference_policies_evaluation-logic_policy-eval-denyallow.html): an explicit Deny in any applicable
  policy wins; otherwise an Allow in an identity-based policy *or* in the resource-based policy
  (naming the principal itself) allows; otherwise the request is implicitly denied. A resource policy
  that names the *account* (``123456789012`` / ``arn:aws:iam::123456789012:root``) delegates to the
  account's identity policies and grants nothing by itself. Role trust policies and KMS key policies
  are the exception: they must allow (directly, or by naming the account, which then needs an
  identity-policy Allow too) — ``required_resource_policy``.
- ``Action`` / ``NotAction`` are matched case-insensitively with ``*`` and ``?``
  (reference_policies_elements_action.html); ``Resource`` / ``NotResource`` case-sensitively, ``*``
  and ``?`` within an ARN segment, a ``*`` ending a segment can run past the colons
  (reference_policies_elements_resource.html).
- ``Condition`` (reference_policies_elements_condition_operators.html,
  reference_policies_condition-logic-multiple-context-keys-or-values.html): operators AND, keys AND,
  values OR; negated operators NOR over their values; a key missing from the request context makes
  a condition false, except for negated operators (true), ``...IfExists`` (true) and ``Null``;
  ``ForAnyValue:`` / ``ForAllValues:`` over multivalued keys (``ForAllValues`` is true for a missing
  key). An operator this evaluator does not know never lets an Allow apply and always lets a Deny
  apply (fail closed).
- permissions boundaries and session policies limit identity-policy Allows (both must allow too).

Parsed policies are cached by their text (``parse_policy``), compiled patterns by their text, so a
request costs dictionary look-ups and a few regular-expression matches.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

Context = Mapping[str, Sequence[str]]
"""Request context: lower-case condition key -> its values (one for single-valued keys)."""


class PolicyError(ValueError):
    """A policy document this evaluator cannot read (bad JSON, missing Effect, ...)."""


# --- callers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who makes a request, as policies see it.

    kind: ``root`` (the account's root user: never restricted), ``role`` (an assumed-role session),
    ``user`` (an IAM user), ``service`` (an AWS service principal such as ``s3.amazonaws.com``),
    ``anonymous`` (an unsigned request)."""

    kind: str
    arn: str
    account: str
    role_arn: str = ""
    role_name: str = ""
    service: str = ""

    @property
    def restricted(self) -> bool:
        return self.kind != "root"


def service_caller(service: str, account: str = "") -> Caller:
    return Caller(kind="service", arn=service, account=account, service=service)


# --- patterns ---------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """``*`` any run of characters, ``?`` one character, everything else literal."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


@lru_cache(maxsize=8192)
def _resource_pattern(pattern: str) -> re.Pattern[str]:
    """A Resource element: wildcards stay within the first five ARN segments, except a ``*`` that
    ends a segment; in the resource part (the sixth segment, which may hold colons) they run free."""
    segments = pattern.split(":", 5)
    if len(segments) < 6:
        return _glob(pattern, False)
    parts = []
    for segment in segments[:5]:
        out = []
        for i, c in enumerate(segment):
            if c == "*":
                out.append(".*" if i == len(segment) - 1 else "[^:]*")
            elif c == "?":
                out.append("[^:]")
            else:
                out.append(re.escape(c))
        parts.append("".join(out))
    parts.append(_glob(segments[5], False).pattern)
    return re.compile(":".join(parts), re.DOTALL)


def resource_match(pattern: str, arn: str) -> bool:
    if pattern == "*":
        return True
    return _resource_pattern(pattern).fullmatch(arn) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """ArnLike / ArnEquals: each of the six colon-delimited parts matched on its own."""
    want, have = pattern.split(":", 5), arn.split(":", 5)
    if len(want) != len(have):
        return False
    return all(glob_match(w, h) for w, h in zip(want, have, strict=True))


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def substitute(text: str, context: Context) -> str | None:
    """Replace policy variables (``${aws:username}``); None when one is not in the context."""
    if "${" not in text:
        return text
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        if name in _ESCAPES:
            return _ESCAPES[name]
        values = context.get(name.lower())
        if not values or len(values) != 1:
            missing = True
            return ""
        return values[0]

    result = _VARIABLE.sub(replace, text)
    return None if missing else result


# --- conditions -------------------------------------------------------------------------------

_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _compare_numbers(op: str, have: float, want: float) -> bool:
    return {
        "Equals": have == want,
        "LessThan": have < want,
        "LessThanEquals": have <= want,
        "GreaterThan": have > want,
        "GreaterThanEquals": have >= want,
    }[op]


def _ip_in(have: str, want: str) -> bool:
    try:
        return ipaddress.ip_address(have) in ipaddress.ip_network(want, strict=False)
    except ValueError:
        return False


def _positive_match(operator: str, have: str, want: str) -> bool:
    """One request value against one policy value, for a non-negated operator."""
    if operator == "StringEquals":
        return have == want
    if operator == "StringEqualsIgnoreCase":
        return have.lower() == want.lower()
    if operator == "StringLike":
        return glob_match(want, have)
    if operator in ("ArnEquals", "ArnLike"):
        return arn_like(want, have)
    if operator == "Bool":
        return have.lower() == want.lower()
    if operator == "BinaryEquals":
        return have == want
    if operator == "IpAddress":
        return _ip_in(have, want)
    if operator.startswith("Numeric"):
        h, w = _number(have), _number(want)
        return h is not None and w is not None and _compare_numbers(operator[7:], h, w)
    if operator.startswith("Date"):
        hd, wd = _date(have), _date(want)
        return (
            hd is not None
            and wd is not None
            and _compare_numbers(operator[4:], hd.timestamp(), wd.timestamp())
        )
    raise AssertionError(operator)  # _KNOWN guards this


_KNOWN = {
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NumericEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
}


@dataclass(frozen=True)
class Condition:
    """One (operator, key, values) test of a Condition block."""

    operator: str  # as written, e.g. "ForAllValues:StringNotEqualsIfExists"
    key: str  # lower-case
    values: tuple[str, ...]
    base: str = ""  # positive operator without qualifier / IfExists, e.g. "StringEquals"
    negated: bool = False
    if_exists: bool = False
    qualifier: str = ""  # "", "ForAnyValue", "ForAllValues"
    known: bool = True
    variables: bool = False  # a value holds a policy variable (${...})

    @classmethod
    def parse(cls, operator: str, key: str, raw: Any) -> Condition:
        qualifier, _, name = operator.rpartition(":")
        if_exists = name.endswith("IfExists") and name != "IfExists"
        if if_exists:
            name = name[: -len("IfExists")]
        negated = name in _NEGATED
        base = _NEGATED.get(name, name)
        known = (base in _KNOWN or base == "Null") and qualifier in ("", "ForAnyValue", "ForAllValues")
        items = raw if isinstance(raw, list) else [raw]
        values = tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in items)
        variables = any("${" in v for v in values)
        return cls(operator, key.lower(), values, base, negated, if_exists, qualifier, known, variables)

    def holds(self, context: Context) -> bool:
        present = context.get(self.key)
        if self.base == "Null":
            absent = not present
            return any((v.lower() == "true") == absent for v in self.values)
        if self.variables:
            wanted = [w for w in (substitute(v, context) for v in self.values) if w is not None]
        else:
            wanted = list(self.values)

        def matches(have: str) -> bool:
            hit = any(_positive_match(self.base, have, want) for want in wanted)
            return not hit if self.negated else hit

        if self.qualifier == "ForAllValues":
            return all(matches(h) for h in present or ())
        if not present:
            if self.if_exists:
                return True
            return self.negated and self.qualifier == ""
        if self.qualifier == "ForAnyValue":
            return any(matches(h) for h in present)
        if self.negated:  # NOR over the policy values, for every value of the request
            return all(matches(h) for h in present)
        return any(matches(h) for h in present)


# --- principals in resource policies -------------------------------------------------------------

_ACCOUNT_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")
_SESSION = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([^/]+)/(.+)$")


def _principal_entries(element: Any) -> list[tuple[str, str]]:
    """``Principal`` element -> [(type, value)]; ``"*"`` is ``("AWS", "*")``."""
    if element == "*":
        return [("AWS", "*")]
    if not isinstance(element, dict):
        raise PolicyError(f"Principal must be '*' or an object, got {element!r}")
    entries = []
    for kind, values in element.items():
        for value in values if isinstance(values, list) else [values]:
            entries.append((str(kind), str(value)))
    return entries


def principal_match(entries: Iterable[tuple[str, str]], caller: Caller) -> str:
    """How a Principal element names the caller: "direct", "account" (delegation to the account's
    identity policies), "" (not at all)."""
    best = ""
    for kind, value in entries:
        if kind == "AWS":
            if value == "*":
                return "direct"
            if caller.kind == "service" or caller.kind == "anonymous":
                continue
            root = _ACCOUNT_ROOT.match(value)
            if value == caller.account or (root and root.group(1) == caller.account):
                if caller.kind == "root":
                    return "direct"
                best = "account"
            elif value == caller.arn or (caller.role_arn and value == caller.role_arn):
                return "direct"
        elif kind == "Service" and caller.kind == "service" and value.lower() == caller.service.lower():
            return "direct"
    return best


# --- statements and policies ------------------------------------------------------------------


@dataclass(frozen=True)
class StatementRef:
    """Which statement decided: the policy's name and the statement's Sid (or its position)."""

    policy: str
    sid: str
    effect: str

    def as_dict(self) -> dict[str, str]:
        return {"policy": self.policy, "sid": self.sid, "effect": self.effect}


def _strings(value: Any, element: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in items):
        raise PolicyError(f"{element} must be a string or a list of strings")
    return tuple(items)


@dataclass(frozen=True)
class Statement:
    ref: StatementRef
    allow: bool
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    principals: tuple[tuple[str, str], ...] | None = None
    not_principals: tuple[tuple[str, str], ...] | None = None
    conditions: tuple[Condition, ...] = ()

    @classmethod
    def parse(cls, raw: Any, policy: str, index: int) -> Statement:
        if not isinstance(raw, dict):
            raise PolicyError(f"{policy}: statement {index} is not an object")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{policy}: statement {index} has Effect {effect!r} (Allow or Deny)")
        sid = str(raw.get("Sid") or f"#{index}")
        ref = StatementRef(policy, sid, effect)
        if ("Action" in raw) == ("NotAction" in raw):
            raise PolicyError(f"{policy}: statement {sid} needs exactly one of Action and NotAction")
        conditions: list[Condition] = []
        block = raw.get("Condition") or {}
        if not isinstance(block, dict):
            raise PolicyError(f"{policy}: statement {sid} has a Condition that is not an object")
        for operator, tests in block.items():
            if not isinstance(tests, dict):
                raise PolicyError(f"{policy}: statement {sid}: condition {operator} is not an object")
            for key, values in tests.items():
                conditions.append(Condition.parse(operator, key, values))
        return cls(
            ref=ref,
            allow=effect == "Allow",
            actions=_strings(raw["Action"], "Action") if "Action" in raw else (),
            not_actions=_strings(raw["NotAction"], "NotAction") if "NotAction" in raw else None,
            resources=_strings(raw["Resource"], "Resource") if "Resource" in raw else None,
            not_resources=_strings(raw["NotResource"], "NotResource") if "NotResource" in raw else None,
            principals=tuple(_principal_entries(raw["Principal"])) if "Principal" in raw else None,
            not_principals=tuple(_principal_entries(raw["NotPrincipal"])) if "NotPrincipal" in raw else None,
            conditions=tuple(conditions),
        )

    def __post_init__(self) -> None:
        # Compiled once per parsed policy (policies are cached by text): one regular expression
        # for all the statement's action patterns, one per variable-free resource pattern.
        patterns = self.not_actions if self.not_actions is not None else self.actions
        combined = "|".join(f"(?:{_glob(p, True).pattern})" for p in patterns) or "(?!)"
        object.__setattr__(self, "_action_re", re.compile(combined, re.DOTALL | re.IGNORECASE))
        listed = self.resources if self.resources is not None else self.not_resources
        compiled: tuple[tuple[str, re.Pattern[str] | None], ...] = tuple(
            (p, None if "${" in p or p == "*" else _resource_pattern(p)) for p in listed or ()
        )
        object.__setattr__(self, "_resource_res", compiled)

    def action_applies(self, action: str) -> bool:
        hit = self._action_re.fullmatch(action) is not None  # type: ignore[attr-defined]
        return not hit if self.not_actions is not None else hit

    def resource_applies(self, resource: str, context: Context) -> bool:
        if self.resources is None and self.not_resources is None:
            return True  # trust policies (and key policies written without Resource)
        hit = False
        for pattern, compiled in self._resource_res:  # type: ignore[attr-defined]
            if compiled is not None:
                hit = compiled.fullmatch(resource) is not None
            elif pattern == "*":
                hit = True
            else:
                concrete = substitute(pattern, context)
                hit = concrete is not None and resource_match(concrete, resource)
            if hit:
                break
        return hit if self.resources is not None else not hit

    def conditions_hold(self, context: Context) -> bool:
        for condition in self.conditions:
            if not condition.known:
                return not self.allow  # fail closed: an unknown operator never widens access
            if not condition.holds(context):
                return False
        return True

    def principal_applies(self, caller: Caller) -> str:
        if self.principals is not None:
            return principal_match(self.principals, caller)
        if self.not_principals is not None:
            return "" if principal_match(self.not_principals, caller) else "direct"
        return ""

    def applies(self, action: str, resource: str, context: Context) -> bool:
        return (
            self.action_applies(action)
            and self.resource_applies(resource, context)
            and self.conditions_hold(context)
        )


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]


@lru_cache(maxsize=2048)
def _parse_text(text: str, name: str) -> Policy:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{name}: not JSON ({exc})") from None
    return _parse_document(document, name)


def _parse_document(document: Any, name: str) -> Policy:
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyError(f"{name}: a policy is an object with a Statement")
    raw = document["Statement"]
    items = raw if isinstance(raw, list) else [raw]
    return Policy(name, tuple(Statement.parse(item, name, i) for i, item in enumerate(items)))


def parse_policy(document: str | Mapping[str, Any], name: str) -> Policy:
    """A parsed policy (cached by its text)."""
    if isinstance(document, str):
        return _parse_text(document, name)
    return _parse_text(json.dumps(document, sort_keys=True), name)


# --- decisions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthzRequest:
    """What AWS evaluates for one permission: action, resource ARN (or ``*``), request context."""

    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # allowed | explicit-deny | implicit-deny | unknown-operation | invalid-token
    action: str
    resource: str
    allowed_by: tuple[StatementRef, ...] = ()
    denied_by: tuple[StatementRef, ...] = ()
    detail: str = ""  # which kind of policy denied or failed to allow
    # Of allowed_by, the resource-policy statements that allowed only by naming the account (a KMS
    # key policy delegating to IAM): they allow together with an identity statement, not instead.
    delegated_by: tuple[StatementRef, ...] = ()

    def message(self, caller: Caller) -> str:
        """The AccessDenied message AWS writes (with the policy kind that decided)."""
        who = caller.arn if caller.kind != "anonymous" else "anonymous"
        head = f"User: {who} is not authorized to perform: {self.action} on resource: {self.resource}"
        if self.reason == "explicit-deny":
            return f"{head} with an explicit deny in {self.detail or 'an identity-based policy'}"
        if self.reason == "implicit-deny":
            return (
                f"{head} because no {self.detail or 'identity-based policy'} allows the {self.action} action"
            )
        return f"{head}: {self.detail}"


def _collect(policies: Iterable[Policy], request: AuthzRequest, allow: bool) -> list[StatementRef]:
    found = []
    for policy in policies:
        for statement in policy.statements:
            if statement.allow == allow and statement.applies(
                request.action, request.resource, request.context
            ):
                found.append(statement.ref)
    return found


def evaluate(
    request: AuthzRequest,
    caller: Caller,
    identity: Sequence[Policy] = (),
    resource_policy: Policy | None = None,
    *,
    required_resource_policy: bool = False,
    resource_account: str | None = None,
    boundary: Policy | None = None,
    session_policies: Sequence[Policy] = (),
) -> Decision:
    """Decide one request of a restricted caller (see the module docstring for the rules)."""
    action, resource = request.action, request.resource
    if not caller.restricted:
        return Decision(True, "allowed", action, resource)

    # 1. explicit denies, in every applicable policy
    denied = _collect(identity, request, allow=False)
    deny_kind = "an identity-based policy"
    rp_direct: list[StatementRef] = []
    rp_account: list[StatementRef] = []
    if resource_policy is not None:
        for statement in resource_policy.statements:
            how = statement.principal_applies(caller)
            if not how or not statement.applies(action, resource, request.context):
                continue
            if not statement.allow:
                if not denied:
                    deny_kind = "a resource-based policy"
                denied.append(statement.ref)
            elif how == "direct":
                rp_direct.append(statement.ref)
            else:
                rp_account.append(statement.ref)
    for extra, kind in [(boundary, "a permissions boundary")] + [
        (p, "a session policy") for p in session_policies
    ]:
        if extra is not None:
            found = _collect([extra], request, allow=False)
            if found and not denied:
                deny_kind = kind
            denied.extend(found)
    if denied:
        return Decision(False, "explicit-deny", action, resource, denied_by=tuple(denied), detail=deny_kind)

    # 2. allows
    identity_allows = _collect(identity, request, allow=True)
    limits_ok = True
    missing = "identity-based policy" if caller.kind in ("role", "user") else "resource-based policy"
    if identity_allows and boundary is not None and not _collect([boundary], request, allow=True):
        limits_ok, missing = False, "permissions boundary"
    if identity_allows and limits_ok:
        for session in session_policies:
            if not _collect([session], request, allow=True):
                limits_ok, missing = False, "session policy"
    identity_ok = bool(identity_allows) and limits_ok
    same_account = resource_account is None or resource_account == caller.account

    if required_resource_policy:
        if rp_direct:
            return Decision(True, "allowed", action, resource, allowed_by=tuple(rp_direct))
        if rp_account and identity_ok:
            return Decision(
                True,
                "allowed",
                action,
                resource,
                allowed_by=tuple(rp_account + identity_allows),
                delegated_by=tuple(rp_account),
            )
        detail = "resource-based policy" if not rp_account else missing
        return Decision(False, "implicit-deny", action, resource, detail=detail)
    if same_account:
        if identity_ok or rp_direct:
            return Decision(True, "allowed", action, resource, allowed_by=tuple(identity_allows + rp_direct))
        return Decision(False, "implicit-deny", action, resource, detail=missing)
    if identity_ok and (rp_direct or rp_account):
        return Decision(
            True, "allowed", action, resource, allowed_by=tuple(identity_allows + rp_direct + rp_account)
        )
    detail = missing if not identity_ok else "resource-based policy"
    return Decision(False, "implicit-deny", action, resource, detail=detail)


def principal_arn_parts(arn: str) -> tuple[str, str, str] | None:
    """(account, role name, session name) of an assumed-role session ARN."""
    match = _SESSION.match(arn)
    return (match.group(1), match.group(2), match.group(3)) if match else None
