"""Shared fixtures: the local cloud (moto + Ground Truth emulator) for integration tests.

- ``local_cloud`` (session): starts ``python -m gtlocal serve`` on a free port unless
  ``GTLOCAL_ENDPOINT`` is set, points boto3 at it through the standard environment variables,
  and yields ``gtlocal.testing.LocalCloud(endpoint, region, control)``.
- ``cloud`` (function): resets moto and the emulator (settings included) before the test.
- Tests under ``tests/integration/`` get the ``integration`` marker; every test an
  ``xdist_group`` (its module, or the shared-tree group) for ``pytest -n 2 --dist loadgroup``.

The local cloud this session starts records every IAM authorization of a restricted principal to
``build/iam/<worker>/calls.jsonl`` (``GTLOCAL_IAM_LOG``; ``<worker>`` is pytest-xdist's worker id,
or ``main``), and the behaviour suite's runs per deployment flavour to
``build/iam/<worker>/calls/<flavour>.jsonl`` with the roles' policies in
``build/iam/<worker>/policies.json`` (``tests/iam_recording.py``), from which
``scripts/iam_coverage.py`` builds docs/iam-coverage.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.iam_recording import forget_recordings, start_session

from gtlocal.client import GroundTruthControl
from gtlocal.testing import (
    LocalCloud,
    aws_environment,
    reset_local_cloud,
    running_local_cloud,
    wait_for_health,
)

INTEGRATION_DIR = Path(__file__).parent / "integration"
REGION = "us-east-1"


# Directories whose tests share files in the working tree (terraform working directories and
# build/tf-data; the Lambda packages and wheel cache in build/, which Terraform's apply builds too):
# under pytest-xdist (`make test-local` runs `-n 2 --dist loadgroup`) each directory's tests run in
# one worker, one after another. (The CloudFormation and pipeline suites only read build/'s
# package, which moto stores without running; the CodeBuild image under .localcloud/data is made
# under a file lock.)
# (Package builds take a file lock, scripts/package_lambda.py.) A module may name its own group
# (tests/integration/terraform/conftest.py: the runs that need no apply go beside it).
SHARED_TREE = tuple(INTEGRATION_DIR / name for name in ("terraform", "package"))
# `make test-local` runs `--dist loadgroup --no-loadscope-reorder`: pytest-xdist hands the groups
# out in collection order, each to the next free worker. The longest go first (measured: the
# per-group sums of the test times a run prints at its end, build/test-durations.json), so that
# what is left at the end is short and neither worker idles while the other finishes a long group;
# the rest keep their order, integration groups before the unit ones.
LONGEST_FIRST = (
    "tests/integration/terraform",  # the apply, every behaviour scenario on it, the pipeline push
    "tests/integration/cloudformation/test_behaviour_on_stack.py",  # the same scenarios on the stacks
    "tests/integration/terraform:static",  # validate, `terraform test` (mock provider)
)


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # not a pytest-xdist worker: the session's start
        forget_recordings()


# tryfirst: pytest-xdist's own collection hook turns the ``xdist_group`` mark into the "@group"
# test-id suffix that ``--dist loadgroup`` schedules by; the mark must be there before it runs.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if INTEGRATION_DIR in path.parents:
            item.add_marker(pytest.mark.integration)
        # One xdist group per test module (module-scoped deployments are made once), and one for
        # every module that works in the shared tree, unless the test names its own.
        if item.get_closest_marker("xdist_group") is None:
            shared = next((d for d in SHARED_TREE if d in path.parents), None)
            group = (shared or path).relative_to(INTEGRATION_DIR.parent.parent)
            item.add_marker(pytest.mark.xdist_group(str(group)))
    items.sort(key=run_order)  # stable: a group's tests keep their order


def group_of(item: pytest.Item) -> str:
    mark = item.get_closest_marker("xdist_group")
    assert mark is not None, item.nodeid
    return str(mark.args[0])


def run_order(item: pytest.Item) -> tuple[int, int]:
    group = group_of(item)
    if group in LONGEST_FIRST:
        return (0, LONGEST_FIRST.index(group))
    return (1 if group.startswith("tests/integration/") else 2, 0)


# Seconds (setup + call + teardown) per worker and xdist group, summed by the controller; printed at
# the end and written to build/test-durations.json, the figures LONGEST_FIRST is kept by.
_DURATIONS: dict[str, dict[str, float]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    node = getattr(report, "node", None)  # pytest-xdist's controller: the worker that ran it
    worker = str(getattr(getattr(node, "gateway", None), "id", "main"))
    if node is None and os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a worker's own report: its controller counts it
    group = report.nodeid.rpartition("@")[2] if "@" in report.nodeid else report.nodeid.split("::")[0]
    groups = _DURATIONS.setdefault(worker, {})
    groups[group] = groups.get(group, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _DURATIONS:
        return
    import json

    out = Path(__file__).resolve().parent.parent / "build" / "test-durations.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_DURATIONS, indent=1, sort_keys=True))
    terminalreporter.section("test seconds per worker (the longest groups)")
    for worker, groups in sorted(_DURATIONS.items()):
        longest = sorted(groups.items(), key=lambda g: -g[1])[:4]
        shown = ", ".join(f"{name} {seconds:.0f}" for name, seconds in longest)
        terminalreporter.write_line(
            f"{worker}: {sum(groups.values()):.0f} s in {len(groups)} groups; {shown}"
        )
    terminalreporter.write_line(f"(all groups: {out.relative_to(out.parent.parent)})")


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: unknown under -p no:xdist
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Under ``--dist loadgroup`` the test ids a worker collected must carry the group pytest-xdist
    schedules by: without it every test is scheduled alone, and module-scoped deployments (the
    Terraform apply, the CloudFormation stacks) are silently made once per worker."""
    if node.config.getvalue("dist") == "loadgroup" and ids and "@" not in ids[0]:
        raise pytest.UsageError(
            "pytest-xdist's --dist loadgroup does not group with this pytest "
            "(github.com/pytest-dev/pytest-xdist/issues/1386): install the pinned versions (make install)"
        )


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[LocalCloud]:
    # pytest's MonkeyPatch restores every variable it touched when the session ends.
    with pytest.MonkeyPatch.context() as env:

        def _use(endpoint: str) -> LocalCloud:
            for key, value in aws_environment(endpoint, REGION).items():
                env.setenv(key, value)
            env.delenv("AWS_PROFILE", raising=False)
            return LocalCloud(endpoint=endpoint, region=REGION, control=GroundTruthControl(endpoint))

        external = os.environ.get("GTLOCAL_ENDPOINT")
        if external:
            wait_for_health(external)
            yield _use(external)
        else:
            env.setenv("GTLOCAL_IAM_LOG", str(start_session()))  # the server's recorder log
            with running_local_cloud() as (endpoint, _proc):
                yield _use(endpoint)


@pytest.fixture
def cloud(local_cloud: LocalCloud) -> LocalCloud:
    reset_local_cloud(local_cloud)
    return local_cloud
