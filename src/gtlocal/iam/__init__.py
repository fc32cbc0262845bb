"""IAM enforcement of the local cloud (see src/gtlocal/README.md, "IAM enforcement").

- ``policy``: the policy evaluator (identity, resource, key and trust policies; conditions);
- ``principals``: access key -> root / role session / IAM user; service principals' sessions;
- ``requests``: HTTP request -> IAM action(s), resource ARN(s), context keys;
- ``enforce``: the hook in ``gtlocal.server.LocalCloudApp`` and ``check()`` for the emulator;
- ``deliveries``: S3/EventBridge/SNS -> SQS and CloudWatch alarm -> SNS, only when AWS would deliver;
- ``record``: the JSON-lines call recorder (``GTLOCAL_IAM_LOG``);
- ``control``: the ``/_localcloud/iam/`` routes.
"""

from gtlocal.iam.enforce import IamEnforcer, check
from gtlocal.iam.policy import AuthzRequest, Caller, Decision
from gtlocal.iam.principals import Principal, assume_role_as_service

__all__ = [
    "AuthzRequest",
    "Caller",
    "Decision",
    "IamEnforcer",
    "Principal",
    "assume_role_as_service",
    "check",
]
