"""``gtctl chain``: force the next job of the chain now, through the Lambdas' own chaining code.

The chaining code takes the project lock, derives the child name from the chain index and treats
``ResourceInUse`` as "already created", so running this twice, or beside a Lambda that chains at
the same moment, still creates exactly one job. Nothing is created while a job is active.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from gtctl.aws import Aws, translate_errors
from gtctl.deployment import Deployment
from gtctl.errors import GtctlError


@contextmanager
def lambda_environment(dep: Deployment) -> Iterator[dict[str, str]]:
    """The Lambda environment of the deployment, applied to os.environ for the duration."""
    saved = {k: os.environ.get(k) for k in dep.lambda_environment}
    os.environ.update(dep.lambda_environment)
    try:
        yield dict(os.environ)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def force(dep: Deployment, reason: str) -> str:
    """Run the chaining decision with force; returns a one-line outcome."""
    Aws(dep.region).session  # noqa: B018 - one-line errors for missing credentials / endpoint
    try:
        from gtstream import chaining
        from gtstream.config import ConfigError, Settings
    except ImportError as exc:  # pragma: no cover - the package ships both
        raise GtctlError(f"the gtstream chaining code is not installed ({exc})") from None
    with lambda_environment(dep) as env, translate_errors():
        try:
            settings = Settings.from_env(env)
        except ConfigError as exc:
            raise GtctlError(f"the deployment's Lambda environment is invalid: {exc}") from None
        outcome = chaining.force_chain(settings, reason=reason)
    return str(outcome)
