"""``gtctl chain``: create the next job of the chain now, through the Lambdas' own chaining code.

``gtstream.chaining.ensure_job`` takes the project lock, derives the child name from the chain
index and treats ``ResourceInUse`` as "already created", so running this twice, or beside a
Lambda that chains at the same moment, still creates exactly one job. While a job is active
nothing is created, unless ``stop_active``: the active job is stopped first (its labels carry
over into the child's input manifest), then the chain moves on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gtcontract.states import ACTIVE_JOB_STATUSES, CREATED, IDLE, IN_PROGRESS, INITIALIZING
from gtctl.aws import Aws, translate_errors
from gtctl.deployment import Deployment
from gtctl.errors import GtctlError


@dataclass(frozen=True)
class ChainOutcome:
    action: str  # created | idle | active | busy | stopped | waiting (gtstream.chaining.Decision)
    reason: str
    job: str | None
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        return self.action in (CREATED, IDLE)


def _stop_and_wait(aws: Aws, job: str, timeout: float, on_wait: Callable[[str], None] | None) -> None:
    from botocore.exceptions import ClientError

    sm = aws.client("sagemaker")
    with translate_errors():
        status = sm.describe_labeling_job(LabelingJobName=job)["LabelingJobStatus"]
        if status in (INITIALIZING, IN_PROGRESS):
            try:
                sm.stop_labeling_job(LabelingJobName=job)
            except ClientError as exc:  # someone else stopped it first: fine, wait for the end
                if exc.response.get("Error", {}).get("Code") != "ValidationException":
                    raise
        deadline = time.monotonic() + timeout
        while True:
            status = sm.describe_labeling_job(LabelingJobName=job)["LabelingJobStatus"]
            if status not in ACTIVE_JOB_STATUSES:
                return
            if time.monotonic() > deadline:
                raise GtctlError(
                    f"{job} is still {status} after {timeout:.0f} s; run gtctl chain again later"
                )
            if on_wait is not None:
                on_wait(status)
            time.sleep(2.0)


def force(
    dep: Deployment,
    reason: str,
    *,
    stop_active: bool = False,
    wait_timeout: float = 900.0,
    on_wait: Callable[[str], None] | None = None,
) -> ChainOutcome:
    """Run the chaining decision now; with ``stop_active`` the running job is stopped first."""
    aws = Aws(dep.region)
    aws.session  # noqa: B018 - one-line errors for missing credentials / endpoint first
    from gtcontract.settings import SettingsError
    from gtstream import chaining
    from gtstream.deps import Deps

    with translate_errors():
        try:
            # The deployment's Lambda environment, parsed as the Lambdas parse theirs (no os.environ).
            settings = dep.settings
        except SettingsError as exc:
            raise GtctlError(f"the deployment's Lambda environment is invalid: {exc}") from None
        deps = Deps.build(settings)
        stopped = None
        if stop_active:
            active = deps.ledger.get_project().get("active_job")
            if active:
                _stop_and_wait(aws, str(active), wait_timeout, on_wait)
                stopped = str(active)
        decision = chaining.ensure_job(deps, reason)
    return ChainOutcome(decision.action, decision.reason, decision.job, stopped)
