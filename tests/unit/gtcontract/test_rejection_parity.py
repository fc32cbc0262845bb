"""One validator: the contract, the publisher and the Lambdas reject (and accept) the same configs.

Every rule of the project config contract (each type, each range, unknown keys, required keys,
each semantic rule) is one row below, run through
  (a) the contract validator ``gtcontract.project_config.validate_project_config``;
  (b) ``scripts/publish_instructions.py`` (its ``main``, on a copy of the starter repository):
      exit 1, one ``error:`` line per problem, no traceback, nothing uploaded;
  (c) the Lambdas: the published config read by ``gtstream.chaining.ensure_job`` through
      ``Deps.project_config`` (``ProjectConfig.parse``): the chain waits, with those problems as
      its reason.
The three must report exactly the same problems. Rows marked ``source`` concern keys that are
not published (``examples``): (a) and (b) only. Rows marked ``lambda``: only where the transform
runs can it be imported, (a) with ``check_import`` and (c); the publisher accepts them.
S3, DynamoDB and SNS are moto in process; SageMaker (which moto does not model) is a recording
stand-in for the gateway, so a valid config shows as the CreateLabelingJob request it produced.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gtcontract.project_config import SOURCE_ONLY_FIELDS, ProjectConfig, validate_project_config
from gtcontract.schema import Problem

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
TEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team"
PUBLIC_TEAM = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
BUILTIN = "arn:aws:lambda:us-east-1:432418664414:function"
DELETE = object()
# The starter project.json (without its examples: their rules are the ``source`` rows) + a work team.
BASE: dict[str, Any] = {
    **{
        k: v
        for k, v in json.loads((ROOT / "instructions" / "project.json").read_text()).items()
        if k != "examples"
    },
    "workteam_arn": TEAM,
}
EXAMPLES = [{"file": "examples/cat.svg", "label": "cat", "caption": "A cat."}]


@dataclass(frozen=True)
class Case:
    id: str
    changes: dict[str, Any]
    paths: list[str]  # the fields the problems name, in the validator's order
    where: str = "all"  # all | source | lambda


def case(id: str, paths: list[str], where: str = "all", **changes: Any) -> Case:
    return Case(id, {k.replace("__", "."): v for k, v in changes.items()}, paths, where)


N = {"categories": ["c1", "c2"]}
CASES = [
    # --- types -------------------------------------------------------------------------------
    case("schema_version-string", ["schema_version"], schema_version="1"),
    case("task_type-number", ["task_type"], task_type=5),
    case("label_attribute_name-number", ["label_attribute_name"], label_attribute_name=7),
    case("categories-string", ["categories"], categories="cat"),
    case("categories-item-number", ["categories[2]"], categories=["cat", "dog", 3]),
    case("task-string", ["task"], task="Classify"),
    case("task.title-number", ["task.title"], task__title=3),
    case("task.keywords-string", ["task.keywords"], task__keywords="image"),
    case("workteam_arn-number", ["workteam_arn"], workteam_arn=5),
    case("workers-string", ["workers_per_object"], workers_per_object="1"),
    case("workers-fraction", ["workers_per_object"], workers_per_object=1.5),
    case("workers-boolean", ["workers_per_object"], workers_per_object=True),
    case("time-limit-string", ["task_time_limit_seconds"], task_time_limit_seconds="300"),
    case("lifetime-null", ["task_availability_lifetime_seconds"], task_availability_lifetime_seconds=None),
    case("concurrency-list", ["max_concurrent_task_count"], max_concurrent_task_count=[1000]),
    case("pre-lambda-number", ["pre_human_task_lambda_arn"], pre_human_task_lambda_arn=5),
    case("acs-lambda-list", ["annotation_consolidation_lambda_arn"], annotation_consolidation_lambda_arn=[]),
    case("classifiers-string", ["content_classifiers"], content_classifiers="FreeOfAdultContent"),
    case("on_publish-bool", ["on_publish"], on_publish=True),
    case("preprocessing-string", ["preprocessing"], preprocessing="default"),
    case("max_side-string", ["preprocessing.max_side"], preprocessing__max_side="big"),
    case("quality-fraction", ["preprocessing.quality"], preprocessing__quality=9.5),
    case("transform-number", ["preprocessing.transform"], preprocessing__transform=1),
    # --- ranges and sizes ---------------------------------------------------------------------
    case("workers-0", ["workers_per_object"], workers_per_object=0),
    case("workers-10", ["workers_per_object"], workers_per_object=10),
    case("time-limit-29", ["task_time_limit_seconds"], task_time_limit_seconds=29),
    case("time-limit-8h+1", ["task_time_limit_seconds"], task_time_limit_seconds=28801),
    case("lifetime-59", ["task_availability_lifetime_seconds"], task_availability_lifetime_seconds=59),
    case(
        "lifetime-30d+1", ["task_availability_lifetime_seconds"], task_availability_lifetime_seconds=2592001
    ),
    case("concurrency-0", ["max_concurrent_task_count"], max_concurrent_task_count=0),
    case("concurrency-5001", ["max_concurrent_task_count"], max_concurrent_task_count=5001),
    case("quality-0", ["preprocessing.quality"], preprocessing__quality=0),
    case("quality-101", ["preprocessing.quality"], preprocessing__quality=101),
    case("max_side-0", ["preprocessing.max_side"], preprocessing__max_side=0),
    case("title-empty", ["task.title"], task__title=""),
    case("title-129", ["task.title"], task__title="x" * 129),
    case("description-empty", ["task.description"], task__description=""),
    case("description-256", ["task.description"], task__description="x" * 256),
    case("keywords-empty", ["task.keywords"], task__keywords=[]),
    case("keywords-6", ["task.keywords"], task__keywords=["a", "b", "c", "d", "e", "f"]),
    case("keyword-31", ["task.keywords[0]"], task__keywords=["x" * 31]),
    case("keyword-two-spaces", ["task.keywords[0]"], task__keywords=["two  spaces"]),
    # TaskKeywords pattern [A-Za-z0-9]+( [A-Za-z0-9]+)*: no hyphen (CreateLabelingJob refuses it)
    case("keyword-hyphen", ["task.keywords[0]"], task__keywords=["image-classification"]),
    case("label_attribute_name-128", ["label_attribute_name"], label_attribute_name="a" * 128),
    case("category-empty", ["categories[2]"], categories=["cat", "dog", ""]),
    # --- enums and patterns -------------------------------------------------------------------
    case("schema_version-2", ["schema_version"], schema_version=2),
    case("task_type-video", ["task_type"], task_type="video-object-tracking"),
    case("format-gif", ["preprocessing.format"], preprocessing__format="GIF"),
    case("on_publish-unknown", ["on_publish"], on_publish="immediately"),
    case("on_publish-null", ["on_publish"], on_publish=None),
    case("classifier-unknown", ["content_classifiers[0]"], content_classifiers=["SafeForWork"]),
    case(
        "classifier-twice",
        ["content_classifiers"],
        content_classifiers=["FreeOfAdultContent", "FreeOfAdultContent"],
    ),
    case("label_attribute_name-underscore", ["label_attribute_name"], label_attribute_name="bad_name"),
    case("workteam_arn-not-an-arn", ["workteam_arn"], workteam_arn="team"),
    case("pre-lambda-not-an-arn", ["pre_human_task_lambda_arn"], pre_human_task_lambda_arn="lambda"),
    case(
        "acs-lambda-bad-name",
        ["annotation_consolidation_lambda_arn"],
        annotation_consolidation_lambda_arn="arn:aws:lambda:us-east-1:123456789012:function:has space",
    ),
    case("transform-no-colon", ["preprocessing.transform"], preprocessing__transform="default"),
    # --- unknown keys -------------------------------------------------------------------------
    case("unknown-top", ["colour"], colour="blue"),
    case("unknown-task", ["task.subtitle"], task__subtitle="x"),
    case("unknown-default-transform-option", ["preprocessing.crop"], preprocessing__crop=5),
    case("typo", ["categories", "categoris"], categories=DELETE, categoris=["cat", "dog"]),
    # --- required keys ------------------------------------------------------------------------
    case("missing-schema_version", ["schema_version"], schema_version=DELETE),
    case("missing-task_type", ["task_type"], task_type=DELETE),
    case("missing-label_attribute_name", ["label_attribute_name"], label_attribute_name=DELETE),
    case("missing-categories", ["categories"], categories=DELETE),
    case("missing-task", ["task"], task=DELETE),
    case("missing-task.title", ["task.title"], task__title=DELETE),
    case("missing-task.description", ["task.description"], task__description=DELETE),
    # --- rules beyond the schema --------------------------------------------------------------
    case("categories-twice", ["categories"], categories=["cat", "dog", "cat"]),
    case("classification-1-category", ["categories"], categories=["cat"]),
    case("classification-11-categories", ["categories"], categories=[f"c{i}" for i in range(11)]),
    case(
        "multilabel-51-categories",
        ["categories"],
        task_type="image-multilabel-classification",
        categories=[f"c{i}" for i in range(51)],
    ),
    case(
        "bounding-box-11-categories",
        ["categories"],
        task_type="bounding-box",
        categories=[f"c{i}" for i in range(11)],
    ),
    case(
        "segmentation-without-ref",
        ["label_attribute_name"],
        task_type="semantic-segmentation",
        label_attribute_name="mask",
    ),
    case(
        "segmentation-21-categories",
        ["categories"],
        task_type="semantic-segmentation",
        label_attribute_name="mask-ref",
        categories=["cat", *(f"c{i}" for i in range(20))],
    ),
    case(
        "adjustment-without-audit",
        ["audit_label_attribute_name"],
        task_type="bounding-box-adjustment",
        label_attribute_name="adjusted",
    ),
    case("audit-on-classification", ["audit_label_attribute_name"], audit_label_attribute_name="boxes"),
    case("label-metadata-suffix", ["label_attribute_name"], label_attribute_name="category-metadata"),
    case("label-source", ["label_attribute_name"], label_attribute_name="source"),
    case("label-source-ref", ["label_attribute_name"], label_attribute_name="source-ref"),
    case("label-ref-suffix", ["label_attribute_name"], label_attribute_name="category-ref"),
    case(
        "public-workforce-lifetime",
        ["task_availability_lifetime_seconds"],
        workteam_arn=PUBLIC_TEAM,
        task_availability_lifetime_seconds=86400,
    ),
    case(
        "public-workforce-default-lifetime",
        ["task_availability_lifetime_seconds"],
        workteam_arn=PUBLIC_TEAM,
        task_availability_lifetime_seconds=DELETE,
    ),
    case(
        "builtin-lambda-of-another-task-type",
        ["pre_human_task_lambda_arn"],
        pre_human_task_lambda_arn=f"{BUILTIN}:PRE-BoundingBox",
    ),
    case(
        "builtin-lambda-in-another-region",
        ["pre_human_task_lambda_arn"],
        pre_human_task_lambda_arn="arn:aws:lambda:eu-west-1:432418664414:function:PRE-ImageMultiClass",
    ),
    case(
        "consolidation-lambda-as-pre-annotation",
        ["pre_human_task_lambda_arn"],
        pre_human_task_lambda_arn=f"{BUILTIN}:ACS-ImageMultiClass",
    ),
    case(
        "transform-not-in-the-package",
        ["preprocessing.transform"],
        preprocessing__transform="gtstream.transforms:defualt",
    ),
    case(
        "transform-not-importable",
        ["preprocessing.transform"],
        "lambda",
        preprocessing={"transform": "no_such_module_xyz:crop", "size": 64},
    ),
    case(
        "example-label-not-a-category",
        ["examples[0].label"],
        "source",
        examples=[{**EXAMPLES[0], "label": "fish"}],
    ),
    case("example-outside-the-repository", ["examples[0].file"], "source", examples=[{"file": "../cat.svg"}]),
    case("example-unknown-key", ["examples[0].size"], "source", examples=[{**EXAMPLES[0], "size": 3}]),
]

VALID = [
    case("starter", []),
    case("starter-with-examples", [], examples=EXAMPLES),
    case(
        "minimal",
        [],
        **{k: DELETE for k in ("workers_per_object", "task_time_limit_seconds", "preprocessing")},
    ),
    case(
        "multilabel-50",
        [],
        task_type="image-multilabel-classification",
        categories=[f"c{i}" for i in range(50)],
    ),
    case("bounding-box-1", [], task_type="bounding-box", categories=["car"]),
    case("segmentation", [], task_type="semantic-segmentation", label_attribute_name="mask-ref"),
    case(
        "adjustment",
        [],
        task_type="bounding-box-adjustment",
        label_attribute_name="adjusted",
        audit_label_attribute_name="boxes",
    ),
    case("bounding-box-10", [], task_type="bounding-box", categories=[f"c{i}" for i in range(10)]),
    case("classification-2", [], **N),
    case("public-workforce-12h", [], workteam_arn=PUBLIC_TEAM, task_availability_lifetime_seconds=43200),
    case(
        "builtin-lambdas",
        [],
        pre_human_task_lambda_arn=f"{BUILTIN}:PRE-ImageMultiClass",
        annotation_consolidation_lambda_arn=f"{BUILTIN}:ACS-ImageMultiClass",
    ),
    case(
        "own-lambda", [], pre_human_task_lambda_arn="arn:aws:lambda:us-east-1:123456789012:function:pre:live"
    ),
    case(
        "classifiers",
        [],
        content_classifiers=["FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent"],
    ),
    case("png", [], preprocessing={"format": "PNG", "quality": 100, "max_side": 1}),
    case("limits", [], label_attribute_name="a" * 127, task={"title": "t" * 128, "description": "d" * 255}),
    case("keywords-5", [], task__keywords=["a b", "x" * 30, "c", "d", "e"]),
    case("on_publish-roll-over", [], on_publish="roll-over"),
    case("on_publish-next-job", [], on_publish="next-job"),
    case("extremes", [], workers_per_object=9, task_time_limit_seconds=28800, max_concurrent_task_count=5000),
]


def apply(config: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(config)
    for dotted, value in changes.items():
        target = out
        *parents, last = dotted.split(".")
        for key in parents:
            target = target[key]
        if value is DELETE:
            target.pop(last, None)
        else:
            target[last] = copy.deepcopy(value)
    return out


def published_from(source: dict[str, Any], bucket: str = "ib") -> dict[str, Any]:
    """What the publisher would write for ``source`` (the fields it adds are valid)."""
    config = {k: v for k, v in source.items() if k not in SOURCE_ONLY_FIELDS}
    config.update(
        version="20260101T000000Z-abc",
        template_uri=f"s3://{bucket}/config/v/template.liquid.html",
        label_category_config_uri=f"s3://{bucket}/config/v/categories.json",
        instructions_url=f"https://{bucket}.s3.{REGION}.amazonaws.com/public/v/instructions.html",
    )
    return config


# --- (b) the publisher ------------------------------------------------------------------------


def load_publisher() -> ModuleType:
    """scripts/publish_instructions.py as a module (the one tests/unit/scripts imports, if loaded)."""
    if "publish_instructions" in sys.modules:
        return sys.modules["publish_instructions"]
    spec = importlib.util.spec_from_file_location(
        "publish_instructions", ROOT / "scripts" / "publish_instructions.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["publish_instructions"] = module
    spec.loader.exec_module(module)
    return module


PUBLISHER = load_publisher()
PUBLISHER_ENV = [variable for variable, _ in PUBLISHER.ENV_DEFAULTS.values()]
BUCKETS = itertools.count()


@dataclass
class Published:
    exit_code: int
    errors: list[str]
    keys: list[str]


def publish(repo: Path, source: dict[str, Any], bucket: str, capsys: pytest.CaptureFixture[str]) -> Published:
    (repo / "project.json").write_text(json.dumps(source))
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=bucket)  # idempotent in us-east-1
    code = PUBLISHER.main(["--source", str(repo), "--bucket", bucket, "--region", REGION, "--git-sha", "abc"])
    err = capsys.readouterr().err
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return Published(code, err.splitlines(), keys)


# --- (c) the Lambdas --------------------------------------------------------------------------


@dataclass
class RecordingJobs:
    """SageMaker's gateway (moto has no labeling jobs): no job exists; creations are recorded."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    def describe(self, name: str) -> None:
        return None

    def create(self, request: dict[str, Any]) -> bool:
        self.requests.append(request)
        return True


@dataclass
class LambdaWorld:
    document: dict[str, Any]
    clients: Any  # one gtstream.aws.Clients for every case (a boto3 session per case is slow)
    tables: Iterator[int] = field(default_factory=itertools.count)
    shared_ready: bool = False

    def decide(
        self, config: dict[str, Any], *, fresh: bool = False
    ) -> tuple[Any, RecordingJobs, dict[str, Any]]:
        """Publish ``config`` where the Lambdas read it and run their chaining decision once.

        The ledger holds one PENDING object and no job; ``fresh``: a new ledger (a decision that
        creates a job changes it), else the one shared by the rejections (which leave it so)."""
        from gtcontract.settings import Settings
        from gtstream.aws import Notifier, ObjectStore, Queues, Topics
        from gtstream.chaining import ensure_job
        from gtstream.deps import Deps
        from gtstream.ledger import Ledger, table_definition

        table = f"parity-ledger-{next(self.tables) if fresh else 'shared'}"
        if fresh or not self.shared_ready:
            self.clients.client("dynamodb").create_table(**table_definition(table))
        settings = replace(Settings.from_env(self.document["lambda_environment"]), ledger_table=table)
        bucket, key = settings.project_config_uri[len("s3://") :].split("/", 1)
        self.clients.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(config).encode())
        topics = Topics(self.clients)
        jobs = RecordingJobs()
        deps = Deps(
            settings=settings,
            store=ObjectStore(self.clients),
            topics=topics,
            jobs=jobs,  # type: ignore[arg-type]
            queues=Queues(self.clients),
            ledger=Ledger(table, self.clients),
            notifier=Notifier(topics, settings.notification_topic_arn, settings.project_prefix),
        )
        if fresh or not self.shared_ready:
            deps.ledger.add_object("0" * 64, f"s3://{settings.input_bucket}/images/{'0' * 64}.jpg", "a.jpg")
            self.shared_ready = self.shared_ready or not fresh
        decision = ensure_job(deps, "parity test")
        return decision, jobs, deps.ledger.get_project()


@pytest.fixture(scope="module")
def lambdas() -> Iterator[LambdaWorld]:
    with pytest.MonkeyPatch.context() as env, mock_aws():
        for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "INSTRUCTIONS_PUBLIC", *PUBLISHER_ENV):
            env.delenv(key, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        from gtlocal import shims
        from gtlocal.deploy import deploy_project
        from gtstream.aws import Clients

        # The local cloud's moto patches, in process: without them moto applies the buckets'
        # TLS-only Deny (aws:SecureTransport) to every request (gtlocal/shims.py).
        shims.apply("http://127.0.0.1:4566")
        yield LambdaWorld(deploy_project("parity", region=REGION), Clients(REGION))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(ROOT / "instructions", target)
    return target


def waiting_reason(world: LambdaWorld, problems: list[Problem]) -> str:
    uri = world.document["project_config_uri"]
    return f"project config {uri} is invalid: invalid project config: " + "; ".join(map(str, problems))


@pytest.mark.parametrize("row", CASES, ids=[c.id for c in CASES])
def test_each_rule_is_rejected_alike_by_the_contract_the_publisher_and_the_lambdas(
    row: Case, lambdas: LambdaWorld, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = apply(BASE, row.changes)
    # (a) the contract names the field(s) of the rule, each with a fix
    problems = validate_project_config(source, check_import=row.where == "lambda")
    assert [p.path for p in problems] == row.paths, problems
    assert all(p.message for p in problems)

    # (b) the publisher: the same problems, one line each, exit 1, nothing uploaded
    published = publish(
        repo, source, f"parity-{next(BUCKETS)}" if row.where == "lambda" else "parity-rejected", capsys
    )
    if row.where == "lambda":
        assert published.exit_code == 0 and "config/project.json" in published.keys
    else:
        assert published.exit_code == 1
        assert published.errors == [f"error: {p}" for p in problems]
        assert published.keys == []

    # (c) the Lambdas: the chain waits, its reason is the same problems
    if row.where == "source":
        return
    decision, jobs, project = lambdas.decide(published_from(source))
    assert (decision.action, decision.reason) == ("waiting", waiting_reason(lambdas, problems))
    assert (project["last_decision"], project["last_reason"]) == ("waiting", decision.reason)
    assert jobs.requests == []


@pytest.mark.parametrize("row", VALID, ids=[c.id for c in VALID])
def test_valid_configs_are_accepted_by_all_three(
    row: Case, lambdas: LambdaWorld, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = apply(BASE, row.changes)
    assert validate_project_config(source, check_import=True) == []

    bucket = f"parity-{next(BUCKETS)}"
    published = publish(repo, source, bucket, capsys)
    assert (published.exit_code, published.errors) == (0, [])
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key="config/project.json")["Body"]
    config = json.loads(body.read())
    assert ProjectConfig.parse(config).categories == tuple(source["categories"])

    decision, jobs, _ = lambdas.decide(config, fresh=True)
    assert decision.action == "created", decision.reason
    (request,) = jobs.requests
    assert request["LabelCategoryConfigS3Uri"] == config["label_category_config_uri"]
    assert request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == config["workers_per_object"]


def test_the_publishers_own_fields_are_checked_by_the_lambdas_validator_too(
    repo: Path, capsys: pytest.CaptureFixture[str], lambdas: LambdaWorld
) -> None:
    # A version the Lambdas would not take (it tags every job) is refused before the upload ...
    (repo / "project.json").write_text(json.dumps(BASE))
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="parity-version")
    code = PUBLISHER.main(["--source", str(repo), "--bucket", "parity-version", "--version", "v 1!"])
    lines = capsys.readouterr().err.splitlines()
    (problem,) = validate_project_config(published_from(BASE) | {"version": "v 1!"}, published=True)
    assert (code, lines) == (1, [f"error: {problem}"]) and problem.path == "version"
    # ... and a config published without what the publisher adds makes the chain wait, naming each.
    bare = {
        k: v for k, v in published_from(BASE).items() if k not in ("version", "template_uri", "workteam_arn")
    }
    decision, _, _ = lambdas.decide(bare)
    expected = validate_project_config(bare, published=True)
    assert [p.path for p in expected] == ["template_uri", "version", "workteam_arn"]
    assert decision.reason == waiting_reason(lambdas, expected)


def test_a_missing_work_team_is_named_by_all_three(
    repo: Path, capsys: pytest.CaptureFixture[str], lambdas: LambdaWorld
) -> None:
    source = apply(BASE, {"workteam_arn": DELETE})
    published = publish(repo, source, "parity-team", capsys)
    assert published.exit_code == 1 and published.keys == []
    (line,) = published.errors
    assert (
        line.startswith("error: workteam_arn: is required but missing") and "GT_DEFAULT_WORKTEAM_ARN" in line
    )
    decision, _, _ = lambdas.decide(published_from(source))
    (problem,) = validate_project_config(published_from(source), published=True)
    assert problem.path == "workteam_arn" and decision.reason == waiting_reason(lambdas, [problem])
