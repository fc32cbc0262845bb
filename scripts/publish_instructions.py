"""Render the instructions repository and publish it to the instruction bucket.

Run by the instructions pipeline's CodeBuild project on every push (``instructions/buildspec.yml``)
and by the demo. Needs boto3, ``jsonschema`` and the contract package ``gtcontract`` (importable
beside this script, as the pipeline lays them out, or installed).

Input (``--source``, an instructions repository): ``project.json`` (task settings, categories,
examples), ``instructions.md``, the task template (Ground Truth Liquid with ``[[ task_title ]]``,
``[[ task_description ]]``, ``[[ categories_json ]]``, ``[[ instructions_url ]]``,
``[[ instructions_html ]]`` and ``[[ examples_html ]]`` placeholders filled here, then rendered
with Ground Truth's Liquid filters as a check: ``gtcontract.task_template``), ``examples/``.
The template is the repository's own ``template.liquid.html`` when it has one, else the starter
template of the task type, ``templates/<task_type>.liquid.html``; either must use the task type's
Crowd HTML Element with the project's categories and the instructions
(``task_template.crowd_element_problems``).

Validation, before anything is uploaded: ``project.json`` through the contract's validator
(``gtcontract.project_config``: the same code the Lambdas parse the published config with),
then what only the publisher can check (the repository's files, the template renders). Every
problem is one line on stderr naming the field and the fix; the exit status is then 1 and nothing
is uploaded. A missing bucket, missing credentials or a refused upload is one line too (exit 1);
uploads stop at the first failure, and ``config/project.json`` (the last) is then not written.

Output (bucket layout, docs/interfaces.md section 5), ``<version>`` = ``<UTC time>-<git sha>``:

- ``public/<version>/instructions.html`` and ``public/<version>/examples/*`` (public mode), read by
  workers' browsers through the bucket policy on ``public/``;
- ``config/<version>/template.liquid.html``, ``config/<version>/categories.json`` and, in
  private mode, ``config/<version>/examples/*`` (the template then uses ``grant_read_access``);
- ``config/project.json`` last, so the Lambdas never see a config whose files are missing.

Values missing from ``project.json`` come from ``GT_DEFAULT_*`` environment variables set by the
Terraform module (e.g. ``GT_DEFAULT_WORKTEAM_ARN``), so account-specific ARNs need not live in git.
"""

from __future__ import annotations

import argparse
import html
import json
import mimetypes
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gtcontract import task_template
from gtcontract.project_config import (
    SOURCE_ONLY_FIELDS,
    category_change_problems,
    validate_project_config,
    with_defaults,
)
from gtcontract.schema import Problem

ENV_DEFAULTS = {
    "workteam_arn": ("GT_DEFAULT_WORKTEAM_ARN", str),
    "workers_per_object": ("GT_DEFAULT_WORKERS_PER_OBJECT", int),
    "task_time_limit_seconds": ("GT_DEFAULT_TASK_TIME_LIMIT_SECONDS", int),
    "task_availability_lifetime_seconds": ("GT_DEFAULT_TASK_AVAILABILITY_SECONDS", int),
    "max_concurrent_task_count": ("GT_DEFAULT_MAX_CONCURRENT_TASK_COUNT", int),
}
REPOSITORY_FILES = {
    "instructions.md": "the worker instructions (Markdown)",
}


class ProjectError(ValueError):
    """The instructions repository is invalid: one line per problem, each saying what to write instead."""

    def __init__(self, problems: Iterable[Problem | str]) -> None:
        self.lines = [str(p) for p in problems]
        super().__init__("; ".join(self.lines))


@dataclass(frozen=True)
class Upload:
    key: str
    body: bytes
    content_type: str


# --- validation -------------------------------------------------------------------------------


def load_project(source: Path, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Read ``project.json``, fill what it leaves out from the environment, validate everything.

    Raises ``ProjectError`` listing every problem; returns the project with the schema's defaults."""
    environ = dict(os.environ if environ is None else environ)
    path = source / "project.json"
    try:
        project = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError([f"{path}: not found; the instructions repository needs a project.json"]) from None
    except json.JSONDecodeError as exc:
        raise ProjectError(
            [f"{path}: not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"]
        ) from None
    if not isinstance(project, dict):
        raise ProjectError([f"{path}: must hold a JSON object {{...}}"])
    problems: list[Problem] = []
    for name, (variable, kind) in ENV_DEFAULTS.items():
        if project.get(name) is None and environ.get(variable):
            try:
                project[name] = kind(environ[variable])
            except ValueError:
                problems.append(Problem(name, f"{variable}={environ[variable]!r} is not a whole number"))
    problems.extend(validate_project(project, source))
    if problems:
        raise ProjectError(problems)
    return with_defaults(project)


def validate_project(project: dict[str, Any], source: Path) -> list[Problem]:
    """The contract's problems of the config, then the repository's (files the config relies on)."""
    problems = validate_project_config(project)
    if project.get("workteam_arn") is None:  # required once published; say where else it may come from
        problems.append(
            Problem(
                "workteam_arn",
                'is required but missing; write "workteam_arn": "arn:aws:sagemaker:<region>:<account>:'
                'workteam/private-crowd/<team>" in project.json, or set GT_DEFAULT_WORKTEAM_ARN '
                "(Terraform: labeling_defaults.workteam_arn)",
            )
        )
    for name, what in REPOSITORY_FILES.items():
        if not (source / name).is_file():
            problems.append(Problem(name, f"missing from the repository; add {what}"))
    task_type = project.get("task_type")
    if isinstance(task_type, str) and "task_type" not in {p.path for p in problems}:
        template = task_template.repository_template(source, task_type)
        if not template.is_file():
            problems.append(
                Problem(
                    task_template.OVERRIDE_TEMPLATE,
                    f"missing from the repository, and so is {template.relative_to(source).as_posix()}; "
                    f"add the worker task template (Liquid) for {task_type}",
                )
            )
    examples = project.get("examples")
    reported = {problem.path for problem in problems}
    for index, example in enumerate(examples if isinstance(examples, list) else []):
        file = example.get("file") if isinstance(example, dict) else None
        if f"examples[{index}].file" in reported:
            continue  # not a path inside the repository: the contract said so
        if isinstance(file, str) and not (source / file).is_file():
            problems.append(
                Problem(
                    f"examples[{index}].file",
                    f"{json.dumps(file)} is not a file of the repository; add it, or write the path of one",
                )
            )
    return problems


# --- rendering --------------------------------------------------------------------------------

# The Markdown subset of the instructions page (kept importable here for callers of the publisher).
markdown_to_html = task_template.markdown_to_html


def render(
    source: Path, project: dict[str, Any], *, bucket: str, region: str, version: str, public: bool
) -> tuple[list[Upload], dict[str, Any]]:
    """Every object to upload (config/project.json last) and the published project config."""
    public_base = f"https://{bucket}.s3.{region}.amazonaws.com/public/{version}"
    instructions_url = f"{public_base}/instructions.html"
    uploads: list[Upload] = []
    example_refs: list[tuple[dict[str, Any], str]] = []
    for example in project.get("examples", []):
        name = Path(example["file"]).name
        body = (source / example["file"]).read_bytes()
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if public:
            uploads.append(Upload(f"public/{version}/examples/{name}", body, ctype))
            src = f"{public_base}/examples/{name}"
        else:
            uploads.append(Upload(f"config/{version}/examples/{name}", body, ctype))
            src = f"{{{{ 's3://{bucket}/config/{version}/examples/{name}' | grant_read_access }}}}"
        example_refs.append((example, src))
    examples_html = task_template.examples_html(
        task_template.Example(
            src, str(ex.get("label") or ""), str(ex.get("caption") or ex.get("label") or "")
        )
        for ex, src in example_refs
    )
    body_html = markdown_to_html((source / "instructions.md").read_text(encoding="utf-8"))
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(project['task']['title'])}</title></head>\n<body>\n{body_html}\n"
        f"{examples_html if public else ''}\n"  # private examples need grant_read_access: template only
        "</body></html>\n"
    )
    if public:
        uploads.append(
            Upload(f"public/{version}/instructions.html", page.encode(), "text/html; charset=utf-8")
        )
    else:
        uploads.append(
            Upload(f"config/{version}/instructions.html", page.encode(), "text/html; charset=utf-8")
        )
        instructions_url = f"s3://{bucket}/config/{version}/instructions.html"
    template_path = task_template.repository_template(source, project["task_type"])
    template_name = template_path.relative_to(source).as_posix()
    template = template_path.read_text(encoding="utf-8")
    # A private page is reached through a short-lived URL Ground Truth makes from its S3 URI.
    link = instructions_url if public else f"{{{{ '{instructions_url}' | grant_read_access }}}}"
    try:
        template = task_template.fill(
            template,
            task_template.placeholder_values(
                project, instructions_url=link, instructions_html=body_html, examples_html=examples_html
            ),
            source=template_name,
        )
        # What Ground Truth will do with it, checked now (on AWS: RenderUiTemplate, see gtcontract.task_template).
        rendered = task_template.render_task(
            template,
            task_template.sample_task_input(f"s3://{bucket}/sample.jpg", project["categories"]),
            source=template_name,
        )
    except task_template.TemplateError as exc:
        raise ProjectError([str(exc)]) from None
    element_problems = task_template.crowd_element_problems(
        rendered, project["task_type"], project["categories"]
    )
    if element_problems:
        raise ProjectError(f"{template_name}: {problem}" for problem in element_problems)
    categories = {"document-version": "2018-11-28", "labels": [{"label": c} for c in project["categories"]]}
    if project.get("audit_label_attribute_name"):
        # A verification or adjustment job names the label it reviews in its label category file
        # ("auditLabelAttributeName", docs.aws.amazon.com/sagemaker/latest/dg/sms-label-cat-config-attributes.html).
        categories["auditLabelAttributeName"] = project["audit_label_attribute_name"]
    uploads.append(
        Upload(f"config/{version}/template.liquid.html", template.encode(), "text/html; charset=utf-8")
    )
    uploads.append(
        Upload(f"config/{version}/categories.json", json.dumps(categories).encode(), "application/json")
    )
    config = {k: v for k, v in with_defaults(project).items() if k not in SOURCE_ONLY_FIELDS}
    config.update(
        version=version,
        template_uri=f"s3://{bucket}/config/{version}/template.liquid.html",
        label_category_config_uri=f"s3://{bucket}/config/{version}/categories.json",
        instructions_url=instructions_url,
    )
    # What the Lambdas will parse, checked by their own validator before anything is uploaded.
    problems = validate_project_config(config, published=True)
    if problems:
        raise ProjectError(problems)
    uploads.append(Upload("config/project.json", json.dumps(config, indent=2).encode(), "application/json"))
    return uploads, config


PUBLISHED_CONFIG_KEY = "config/project.json"


def published_categories(bucket: str, s3: Any) -> list[Any] | None:
    """The categories of the config published now (None before the first publish)."""
    try:
        body = s3.get_object(Bucket=bucket, Key=PUBLISHED_CONFIG_KEY)["Body"].read()
    except Exception as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    try:
        categories = json.loads(body).get("categories")
    except (ValueError, AttributeError):
        return None  # not a config the Lambdas could read either: nothing to keep compatible with
    return categories if isinstance(categories, list) else None


def publish(uploads: list[Upload], bucket: str, s3: Any) -> None:
    """Upload in order; ``config/project.json`` comes last by construction of ``render``."""
    for upload in uploads:
        s3.put_object(Bucket=bucket, Key=upload.key, Body=upload.body, ContentType=upload.content_type)
        print(f"  s3://{bucket}/{upload.key} ({len(upload.body)} bytes)")


def aws_problem(exc: BaseException, bucket: str) -> str:
    """One line for what boto3 raised while publishing: the cause and what to do."""
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (CodeBuild: the project's service role)"
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return f"cannot reach S3 ({exc}); check AWS_ENDPOINT_URL / the network"
    response = getattr(exc, "response", None)
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    code, message = str(error.get("Code", name)), str(error.get("Message", exc))
    if code in ("NoSuchBucket", "404"):
        return f"bucket {bucket} does not exist; pass --bucket (or INSTRUCTIONS_BUCKET) of the instruction bucket"
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
        return f"not allowed to write to s3://{bucket} ({code}: {message}); the role needs s3:PutObject on config/* and public/*"
    return f"upload to s3://{bucket} failed ({code}: {message})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render and publish the labeling instructions.")
    parser.add_argument("--source", type=Path, default=Path("."), help="instructions repository checkout")
    parser.add_argument("--bucket", default=os.environ.get("INSTRUCTIONS_BUCKET"), help="instruction bucket")
    parser.add_argument(
        "--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    parser.add_argument("--git-sha", default="local", help="commit of the source (part of the version)")
    parser.add_argument("--version", help="explicit version (default <UTC time>-<git sha>)")
    parser.add_argument(
        "--private",
        action="store_true",
        default=os.environ.get("INSTRUCTIONS_PUBLIC", "true").lower() == "false",
    )
    parser.add_argument("--dry-run", action="store_true", help="validate and render; upload nothing")
    parser.add_argument(
        "--allow-category-changes",
        action="store_true",
        default=os.environ.get("INSTRUCTIONS_ALLOW_CATEGORY_CHANGES", "false").lower() == "true",
        help="publish even if published categories move or disappear (earlier labels change meaning)",
    )
    args = parser.parse_args(argv)
    if not args.bucket:
        print("error: --bucket (or INSTRUCTIONS_BUCKET) is required", file=sys.stderr)
        return 2
    if not args.source.is_dir():
        print(
            f"error: --source {args.source}: not a directory; pass the instructions repository checkout",
            file=sys.stderr,
        )
        return 2
    try:
        project = load_project(args.source)
        version = args.version or f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{args.git_sha[:12]}"
        region = args.region or "us-east-1"
        uploads, config = render(
            args.source, project, bucket=args.bucket, region=region, version=version, public=not args.private
        )
    except ProjectError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file the checks saw vanished, or cannot be read
        print(f"error: {exc.filename or args.source}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"publishing version {version} ({'private' if args.private else 'public'}) to s3://{args.bucket}")
    if args.dry_run:
        for upload in uploads:
            print(f"  (dry run) {upload.key}")
        return 0
    try:
        import boto3

        s3 = boto3.client("s3", region_name=region)
        if not args.allow_category_changes:
            problems = category_change_problems(published_categories(args.bucket, s3), config["categories"])
            for problem in problems:
                print(f"error: project.json: {problem} (or pass --allow-category-changes)", file=sys.stderr)
            if problems:
                return 1
        publish(uploads, args.bucket, s3)
    except Exception as exc:  # botocore's errors: one line, nothing after the failed upload
        print(f"error: {aws_problem(exc, args.bucket)}", file=sys.stderr)
        return 1
    print(f"published {config['template_uri']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
