"""Render the instructions repository and publish it to the instruction bucket.

Run by the instructions pipeline's CodeBuild project on every push (``instructions/buildspec.yml``)
and by the demo. Only the standard library and boto3 (both present in CodeBuild images).

Input (``--source``, an instructions repository): ``project.json`` (task settings, categories,
examples), ``instructions.md``, ``template.liquid.html`` (Ground Truth Liquid template with
``[[ task_title ]]``, ``[[ categories_json ]]``, ``[[ instructions_url ]]`` and
``[[ examples_html ]]`` placeholders filled here), ``examples/``.

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
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TASK_TYPES = ("image-classification", "image-multilabel-classification", "bounding-box")
ARN_WORKTEAM = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:workteam/[a-z-]+/[A-Za-z0-9-]+$")
ARN_LAMBDA = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$"
)
ENV_DEFAULTS = {
    "workteam_arn": ("GT_DEFAULT_WORKTEAM_ARN", str),
    "workers_per_object": ("GT_DEFAULT_WORKERS_PER_OBJECT", int),
    "task_time_limit_seconds": ("GT_DEFAULT_TASK_TIME_LIMIT_SECONDS", int),
    "task_availability_lifetime_seconds": ("GT_DEFAULT_TASK_AVAILABILITY_SECONDS", int),
    "max_concurrent_task_count": ("GT_DEFAULT_MAX_CONCURRENT_TASK_COUNT", int),
}
DEFAULT_PREPROCESSING = {
    "transform": "gtstream.transforms:default",
    "max_side": 1024,
    "format": "JPEG",
    "quality": 90,
}


class ProjectError(ValueError):
    """The project file is invalid; the message says what to write instead."""


@dataclass(frozen=True)
class Upload:
    key: str
    body: bytes
    content_type: str


# --- validation -------------------------------------------------------------------------------


def _int_in(project: dict[str, Any], name: str, low: int, high: int, hint: str = "") -> None:
    value = project.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProjectError(f"{name} must be a whole number from {low} to {high}{hint}; got {value!r}")


def load_project(source: Path, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Read ``project.json``, fill defaults from the environment and validate it."""
    environ = dict(os.environ if environ is None else environ)
    path = source / "project.json"
    try:
        project: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(f"{path} not found: the instructions repository needs a project.json") from None
    except json.JSONDecodeError as exc:
        raise ProjectError(
            f"{path} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(project, dict):
        raise ProjectError(f"{path} must hold a JSON object")
    for name, (variable, kind) in ENV_DEFAULTS.items():
        if project.get(name) is None and environ.get(variable):
            try:
                project[name] = kind(environ[variable])
            except ValueError:
                raise ProjectError(f"{variable}={environ[variable]!r} is not a valid {name}") from None
    project.setdefault("schema_version", 1)
    project.setdefault("pre_human_task_lambda_arn", None)
    project.setdefault("annotation_consolidation_lambda_arn", None)
    project.setdefault("preprocessing", dict(DEFAULT_PREPROCESSING))
    project.setdefault("examples", [])
    validate_project(project, source)
    return project


def validate_project(project: dict[str, Any], source: Path) -> None:
    """Raise ProjectError with a clear message for the first problem found."""
    if project["schema_version"] != 1:
        raise ProjectError(f"schema_version must be 1; got {project['schema_version']!r}")
    if project.get("task_type") not in TASK_TYPES:
        raise ProjectError(
            f"task_type must be one of {', '.join(TASK_TYPES)}; got {project.get('task_type')!r}"
        )
    label = project.get("label_attribute_name")
    if (
        not isinstance(label, str)
        or not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", label)
        or len(label) > 127
    ):
        raise ProjectError(
            f"label_attribute_name must be letters/digits/inner hyphens, <= 127 chars; got {label!r}"
        )
    if label in ("source", "source-ref") or label.endswith("-metadata") or label.endswith("-ref"):
        raise ProjectError(
            f"label_attribute_name {label!r} is reserved by Ground Truth "
            "(not source/source-ref, not ending in -metadata or -ref for these task types)"
        )
    categories = project.get("categories")
    if (
        not isinstance(categories, list)
        or not 1 <= len(categories) <= 30
        or not all(isinstance(c, str) and 1 <= len(c) <= 256 for c in categories)
        or len(set(categories)) != len(categories)
    ):
        raise ProjectError(
            'categories must be a list of 1-30 distinct non-empty strings, e.g. ["cat", "dog"]'
        )
    task = project.get("task")
    if not isinstance(task, dict) or not task.get("title") or not task.get("description"):
        raise ProjectError('task must be {"title": "...", "description": "...", "keywords": [...]}')
    if len(str(task["title"])) > 128 or len(str(task["description"])) > 255:
        raise ProjectError("task.title must be <= 128 characters and task.description <= 255")
    task.setdefault("keywords", [])
    workteam = project.get("workteam_arn")
    if not isinstance(workteam, str) or not ARN_WORKTEAM.match(workteam):
        raise ProjectError(
            "workteam_arn must be a workteam ARN like arn:aws:sagemaker:us-east-1:123456789012:"
            f"workteam/private-crowd/my-team (or set GT_DEFAULT_WORKTEAM_ARN); got {workteam!r}"
        )
    _int_in(project, "workers_per_object", 1, 9)
    _int_in(project, "task_time_limit_seconds", 30, 28800, " (30 s to 8 h)")
    limit = 43200 if ":workteam/public-crowd/" in workteam else 2592000
    _int_in(
        project,
        "task_availability_lifetime_seconds",
        60,
        limit,
        " (12 h for the public workforce, else 30 days)",
    )
    _int_in(project, "max_concurrent_task_count", 1, 5000)
    for name in ("pre_human_task_lambda_arn", "annotation_consolidation_lambda_arn"):
        value = project.get(name)
        if value is not None and not (isinstance(value, str) and ARN_LAMBDA.match(value)):
            raise ProjectError(f"{name} must be null (built-in) or a Lambda function ARN; got {value!r}")
    classifiers = project.setdefault("content_classifiers", [])
    allowed = ("FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent")
    if not isinstance(classifiers, list) or any(c not in allowed for c in classifiers):
        raise ProjectError(
            f"content_classifiers must be a list of {', '.join(allowed)} (what you declare about "
            f"your images to Ground Truth; default none); got {classifiers!r}"
        )
    for example in project["examples"]:
        if not isinstance(example, dict) or not isinstance(example.get("file"), str):
            raise ProjectError(
                'examples must be a list of {"file": "examples/x.jpg", "label": ..., "caption": ...}'
            )
        if not (source / example["file"]).is_file():
            raise ProjectError(f"example file {example['file']!r} does not exist in the repository")
        if example.get("label") is not None and example["label"] not in categories:
            raise ProjectError(
                f"example {example['file']!r} has label {example['label']!r}, not one of the categories"
            )


# --- rendering --------------------------------------------------------------------------------

_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)"), r'<img alt="\1" src="\2">'),
    (re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"), r'<a href="\2">\1</a>'),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![*\w])\*([^*]+)\*(?!\w)"), r"<em>\1</em>"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
]


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    for pattern, repl in _INLINE:
        out = pattern.sub(repl, out)
    return out


def markdown_to_html(markdown: str) -> str:
    """A small Markdown subset: headings, paragraphs, lists, emphasis, code, links, images."""
    lines = markdown.splitlines()
    out: list[str] = []
    paragraph: list[str] = []
    list_tag: str | None = None

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    for raw in lines:
        line = raw.rstrip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        item = re.match(r"^\s*([-*]|\d+\.)\s+(.*)$", line)
        if not line.strip():
            flush()
        elif heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item:
            if paragraph:
                out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
                paragraph.clear()
            tag = "ol" if item.group(1)[0].isdigit() else "ul"
            if list_tag != tag:
                if list_tag:
                    out.append(f"</{list_tag}>")
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{_inline(item.group(2))}</li>")
        else:
            paragraph.append(line.strip())
    flush()
    return "\n".join(out)


def render(
    source: Path, project: dict[str, Any], *, bucket: str, region: str, version: str, public: bool
) -> tuple[list[Upload], dict[str, Any]]:
    """Every object to upload (config/project.json last) and the published project config."""
    public_base = f"https://{bucket}.s3.{region}.amazonaws.com/public/{version}"
    instructions_url = f"{public_base}/instructions.html"
    uploads: list[Upload] = []
    example_refs: list[tuple[dict[str, Any], str]] = []
    for example in project["examples"]:
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
    examples_html = "\n".join(
        f'      <figure><img src="{src}" alt="{html.escape(str(ex.get("label") or ""))}" width="160">'
        f"<figcaption>{html.escape(str(ex.get('caption') or ex.get('label') or ''))}</figcaption></figure>"
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
    template = (source / "template.liquid.html").read_text(encoding="utf-8")
    for name, value in {
        "task_title": html.escape(project["task"]["title"]),
        "categories_json": html.escape(json.dumps(project["categories"])),
        "instructions_url": instructions_url,
        "examples_html": examples_html,
    }.items():
        template = template.replace(f"[[ {name} ]]", value)
    leftover = re.search(r"\[\[ *[a-z_]+ *\]\]", template)
    if leftover:
        raise ProjectError(f"template.liquid.html has an unknown placeholder {leftover.group(0)}")
    categories = {"document-version": "2018-11-28", "labels": [{"label": c} for c in project["categories"]]}
    uploads.append(
        Upload(f"config/{version}/template.liquid.html", template.encode(), "text/html; charset=utf-8")
    )
    uploads.append(
        Upload(f"config/{version}/categories.json", json.dumps(categories).encode(), "application/json")
    )
    config = {k: v for k, v in project.items() if k != "examples"}
    config.update(
        version=version,
        template_uri=f"s3://{bucket}/config/{version}/template.liquid.html",
        label_category_config_uri=f"s3://{bucket}/config/{version}/categories.json",
        instructions_url=instructions_url,
    )
    uploads.append(Upload("config/project.json", json.dumps(config, indent=2).encode(), "application/json"))
    return uploads, config


def publish(uploads: list[Upload], bucket: str, s3: Any) -> None:
    """Upload in order; ``config/project.json`` comes last by construction of ``render``."""
    for upload in uploads:
        s3.put_object(Bucket=bucket, Key=upload.key, Body=upload.body, ContentType=upload.content_type)
        print(f"  s3://{bucket}/{upload.key} ({len(upload.body)} bytes)")


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
    args = parser.parse_args(argv)
    if not args.bucket:
        print("error: --bucket (or INSTRUCTIONS_BUCKET) is required", file=sys.stderr)
        return 2
    try:
        project = load_project(args.source)
        version = args.version or f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{args.git_sha[:12]}"
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", version):
            raise ProjectError(f"version must be 1-64 letters, digits, '.', '_' or '-'; got {version!r}")
        import boto3

        s3 = boto3.client("s3", region_name=args.region)
        region = args.region or s3.meta.region_name
        uploads, config = render(
            args.source, project, bucket=args.bucket, region=region, version=version, public=not args.private
        )
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"publishing version {version} ({'private' if args.private else 'public'}) to s3://{args.bucket}")
    if args.dry_run:
        for upload in uploads:
            print(f"  (dry run) {upload.key}")
        return 0
    publish(uploads, args.bucket, s3)
    print(f"published {config['template_uri']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
