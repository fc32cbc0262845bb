"""Who is calling: the access key of a SigV4 request -> a root, role-session or IAM-user caller.

- A key that moto's STS issued (``AssumeRole``, or ``assume_role_as_service`` here) is a session of
  its role: enforced with the role's inline and attached managed policies (and its permissions
  boundary, and the session policy given to AssumeRole).
- A key that moto's IAM issued (``CreateAccessKey``) is that user: enforced with the user's inline,
  attached and group policies.
- Any other key (the dummy ``testing`` / ``test`` credentials of the tests, Terraform and the demo)
  is the account's root user: not restricted, as in AWS.
Signatures are not verified (moto's server does not either); a session key presented with another
session token, or after its expiry, or a temporary key (``ASIA...`` with a session token) that STS
does not know (e.g. issued before a moto reset), is refused as AWS refuses it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gtlocal.iam import resources
from gtlocal.iam.policy import AuthzRequest, Caller, Decision, Policy, evaluate, parse_policy, service_caller

TEMPORARY_KEY_PREFIX = "ASIA"  # the access keys of STS sessions (AWS's and moto's)
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/")


def default_account() -> str:
    from moto.core.models import DEFAULT_ACCOUNT_ID

    return str(DEFAULT_ACCOUNT_ID)


@dataclass(frozen=True)
class Signature:
    """What the request says about its signer (nothing is verified)."""

    access_key: str
    region: str
    service: str
    token: str | None
    signed: bool


def signature_of(environ: dict[str, Any], query: dict[str, list[str]]) -> Signature:
    """From the ``Authorization`` header, or the ``X-Amz-Credential`` of a presigned URL."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    match = _CREDENTIAL.search(header)
    token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
    if match is None and "X-Amz-Credential" in query:
        match = _CREDENTIAL.search("Credential=" + query["X-Amz-Credential"][0])
        tokens = query.get("X-Amz-Security-Token")
        token = token or (tokens[0] if tokens else None)
    if match is None:
        return Signature("", "us-east-1", "", token, signed=False)
    return Signature(match.group(1), match.group(2), match.group(3), token, signed=True)


@dataclass(frozen=True)
class Principal:
    """A caller with what its policies are read from."""

    caller: Caller
    access_key: str = ""
    token: str | None = None
    expiration: datetime | None = None
    user_name: str = ""
    session_policy: str | None = None

    @property
    def restricted(self) -> bool:
        return self.caller.restricted


class TokenError(Exception):
    """The session token does not belong to the key, or the session expired."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Principals:
    """Resolve access keys (cached; ``reset()`` when moto is reset) and read identity policies."""

    def __init__(self) -> None:
        self._cache: dict[str, Principal] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._cache.clear()

    def root(self, account: str | None = None) -> Principal:
        account = account or default_account()
        return Principal(Caller("root", f"arn:aws:iam::{account}:root", account))

    def resolve(self, signature: Signature) -> Principal:
        if not signature.signed:
            account = default_account()
            return Principal(Caller("anonymous", "anonymous", account))
        key = signature.access_key
        principal = self._cache.get(key)
        if principal is None:
            found = self._lookup(key, signature.region)
            if found is None:
                if signature.token is not None and key.startswith(TEMPORARY_KEY_PREFIX):
                    # A temporary key STS never issued here (or issued before a moto reset): AWS
                    # refuses it ("The security token included in the request is invalid",
                    # https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html);
                    # it is not the account's root user.
                    raise TokenError(
                        "InvalidClientTokenId", "The security token included in the request is invalid."
                    )
                found = self.root()
            principal = found
            with self._lock:
                self._cache[key] = principal
        if principal.caller.kind == "role":
            if signature.token != principal.token:
                raise TokenError(
                    "InvalidClientTokenId", "The security token included in the request is invalid."
                )
            if principal.expiration is not None and principal.expiration < datetime.now(UTC):
                raise TokenError("ExpiredToken", "The security token included in the request is expired")
        return principal

    def _lookup(self, key: str, region: str) -> Principal | None:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        for account, by_partition in list(iam_backends.items()):
            for partition, backend in list(by_partition.items()):
                found = backend.access_keys.get(key)
                if found is None:
                    continue
                user_name = getattr(found, "user_name", None)
                if user_name:
                    user = backend.get_user(user_name)
                    caller = Caller("user", user.arn, account)
                    return Principal(caller, key, user_name=user.name)
                for session in sts_backends[account][partition].assumed_roles:
                    if session.access_key_id == key:
                        role_arn = session.role_arn
                        name = role_arn.rsplit("/", 1)[-1]
                        caller = Caller("role", session.arn, account, role_arn=role_arn, role_name=name)
                        expiration = session.expiration
                        if expiration.tzinfo is None:
                            expiration = expiration.replace(tzinfo=UTC)
                        return Principal(
                            caller,
                            key,
                            session.session_token,
                            expiration,
                            session_policy=session.policy or None,
                        )
        return None

    # --- policies --------------------------------------------------------------------------------

    def identity_policies(self, principal: Principal) -> list[Policy]:
        caller = principal.caller
        if caller.kind == "role":
            role = resources.role_by_name(caller.account, caller.role_name)
            if role is None:
                return []
            found = [parse_policy(doc, name) for name, doc in role.policies.items()]
            for managed in role.managed_policies.values():
                found.append(parse_policy(resources.managed_policy_document(managed), managed.arn))
            return found
        if caller.kind == "user":
            backend = resources.iam_backend(caller.account)
            user = backend.get_user(principal.user_name)
            found = [parse_policy(doc, name) for name, doc in user.policies.items()]
            for managed in user.managed_policies.values():
                found.append(parse_policy(resources.managed_policy_document(managed), managed.arn))
            for group in backend.get_groups_for_user(user.name):
                found += [parse_policy(doc, f"{group.name}/{name}") for name, doc in group.policies.items()]
                for managed in group.managed_policies.values():
                    found.append(parse_policy(resources.managed_policy_document(managed), managed.arn))
            return found
        return []

    def boundary(self, principal: Principal) -> Policy | None:
        caller = principal.caller
        arn = None
        if caller.kind == "role":
            role = resources.role_by_name(caller.account, caller.role_name)
            arn = getattr(role, "permissions_boundary_arn", None) if role is not None else None
        elif caller.kind == "user":
            user = resources.iam_backend(caller.account).get_user(principal.user_name)
            arn = getattr(user, "permissions_boundary", None)
            arn = arn.get("PermissionsBoundaryArn") if isinstance(arn, dict) else arn
        if not arn:
            return None
        managed = resources.iam_backend(caller.account).managed_policies.get(arn)
        if managed is None:  # a boundary that does not exist allows nothing
            return parse_policy({"Statement": []}, f"permissions boundary {arn}")
        return parse_policy(
            resources.managed_policy_document(managed), f"permissions boundary {managed.name}"
        )

    def session_policies(self, principal: Principal) -> list[Policy]:
        if principal.session_policy:
            return [parse_policy(principal.session_policy, "session policy")]
        return []


# --- service principals --------------------------------------------------------------------------


class AssumeRoleError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def check_trust(
    role: Any,
    service: str,
    source_account: str | None = None,
    source_arn: str | None = None,
) -> Decision:
    """May ``service`` assume ``role`` (its trust policy, with aws:SourceAccount / aws:SourceArn)?"""
    account = role.arn.split(":")[4]
    caller = service_caller(service, account)
    context: dict[str, tuple[str, ...]] = {"aws:principalservicename": (service,)}
    if source_account:
        context["aws:sourceaccount"] = (source_account,)
    if source_arn:
        context["aws:sourcearn"] = (source_arn,)
    trust = resources.trust_policy(role)
    request = AuthzRequest("sts:AssumeRole", role.arn, context)
    return evaluate(request, caller, (), trust, required_resource_policy=True)


def assume_role_as_service(
    role_arn: str,
    service: str,
    source_account: str | None = None,
    source_arn: str | None = None,
    session_name: str | None = None,
    region: str = "us-east-1",
    duration_seconds: int = 3600,
) -> dict[str, str]:
    """Temporary credentials of ``role_arn`` as ``service`` assumes it (e.g. ``lambda.amazonaws.com``
    for a function's execution role, ``sagemaker.amazonaws.com`` for a labeling job's RoleArn), after
    the role's trust policy allowed that service principal. The session is then enforced like any."""
    from moto.sts.models import sts_backends

    if not re.fullmatch(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?", service):
        raise AssumeRoleError(400, "ValidationError", f"not a service principal: {service!r}")
    parts = role_arn.split(":")
    if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        raise AssumeRoleError(400, "ValidationError", f"not a role ARN: {role_arn!r}")
    account = parts[4]
    role = resources.role_by_arn(account, role_arn)
    if role is None or role.arn != role_arn:
        raise AssumeRoleError(
            404, "NoSuchEntity", f"The role with name {role_arn.rsplit('/', 1)[-1]} cannot be found."
        )
    decision = check_trust(role, service, source_account, source_arn)
    if not decision.allowed:
        raise AssumeRoleError(
            403,
            "AccessDenied",
            f"{service} is not authorized to perform: sts:AssumeRole on resource: {role_arn} "
            "(the role's trust policy does not allow this service principal"
            + (
                " with these aws:SourceAccount / aws:SourceArn values)"
                if source_account or source_arn
                else ")"
            ),
        )
    name = session_name or service.split(".", 1)[0]
    session = sts_backends[account][resources._partition(region)].assume_role(
        region_name=region,
        role_session_name=name,
        role_arn=role_arn,
        policy=None,  # type: ignore[arg-type]  # moto accepts None (no session policy)
        duration=duration_seconds,
        external_id=None,  # type: ignore[arg-type]
    )
    expiration = session.expiration
    return {
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key,
        "SessionToken": session.session_token,
        "Expiration": expiration.replace(tzinfo=UTC).isoformat()
        if expiration.tzinfo is None
        else expiration.isoformat(),
        "AssumedRoleArn": session.arn,
    }
