"""The IAM coverage report (docs/iam-coverage.md): what each deployed role's statements are for.

Built from what the last test session recorded (``tests/iam_recording.py``): the behaviour suite's
calls per deployment flavour (``build/iam/<worker>/calls/<flavour>.jsonl``, the local cloud's recorder
lines, one directory per pytest process) and every role's policies as deployed
(``build/iam/<worker>/policies.json``). For each role kind and flavour:

- each Allow statement (Sid, actions, resources) and the calls it was **necessary** for: a call
  (one recorder line, one permission) needs a statement when that statement is the only Allow -
  identity or resource policy - in the line's ``allowed_by`` (a key policy's statement that only
  delegates to IAM, ``delegated_by``, is no alternative); a statement no call needs on any
  deployment is **unused**, and must be listed with its reason in docs/iam-unused.yaml
  (``<kind>: {<Sid>: reason}``) or be removed from the policies;
- the actions the code was seen calling next to the actions the role is granted.

It fails (exit 1) when a statement is unused without a reason, when a reason is listed for a
statement that is used or does not exist (stale), or when a project role was denied anything.
``--check`` also fails when docs/iam-coverage.md differs from what it would write (like the
terraform-docs tables). The report holds sets and names, no counts or times, so the same suite
writes the same report.

    python scripts/iam_coverage.py            # write docs/iam-coverage.md
    python scripts/iam_coverage.py --check    # make test-local, after pytest
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "iam"
UNUSED = ROOT / "docs" / "iam-unused.yaml"
REPORT = ROOT / "docs" / "iam-coverage.md"
FLAVOURS = ("sdk", "terraform", "cloudformation")
FLAVOUR_TITLES = {"sdk": "SDK", "terraform": "Terraform", "cloudformation": "CloudFormation"}
KINDS = ("groundtruth", "intake", "job_events", "worker_events", "labels", "reconcile")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Statement:
    policy: str
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: str  # compact JSON, "" when none


def statements(policies: Mapping[str, Any]) -> list[Statement]:
    """The Allow statements of a role's identity policies; a statement without Sid is ``#<index>``,
    as the recorder names it."""
    found = []
    for name, document in sorted(policies.items()):
        for index, statement in enumerate(_as_list(document.get("Statement", []))):
            if statement.get("Effect") != "Allow":
                continue
            condition = statement.get("Condition")
            found.append(
                Statement(
                    policy=name,
                    sid=str(statement.get("Sid") or f"#{index}"),
                    actions=tuple(sorted(str(a) for a in _as_list(statement.get("Action", [])))),
                    resources=tuple(str(r) for r in _as_list(statement.get("Resource", []))),
                    conditions=json.dumps(condition, sort_keys=True, separators=(",", ":"))
                    if condition
                    else "",
                )
            )
    return found


def load_calls(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def necessary(calls: Iterable[Mapping[str, Any]], role: str) -> dict[tuple[str, str], set[str]]:
    """(policy, Sid) -> the actions (``action (Operation)``) of ``role``'s allowed calls for which
    that statement was the only Allow statement (identity or resource policy) in ``allowed_by``,
    not counting a key policy's statement that allowed only together with it (``delegated_by``)."""
    needed: dict[tuple[str, str], set[str]] = defaultdict(set)
    for call in calls:
        if call.get("kind") != "call" or call.get("role") != role or call.get("decision") != "allow":
            continue
        delegated = {(a["policy"], a["sid"]) for a in call.get("delegated_by", [])}
        allows = {
            (a["policy"], a["sid"]) for a in call.get("allowed_by", []) if a.get("effect") == "Allow"
        } - delegated
        if len(allows) == 1:
            operation = str(call.get("operation", "")).partition(":")[2]
            needed[next(iter(allows))].add(f"{call['action']} ({operation})" if operation else call["action"])
    return needed


def called(calls: Iterable[Mapping[str, Any]], role: str) -> dict[str, set[str]]:
    """action -> the operations of ``role``'s allowed calls that needed it."""
    seen: dict[str, set[str]] = defaultdict(set)
    for call in calls:
        if call.get("kind") == "call" and call.get("role") == role and call.get("decision") == "allow":
            seen[str(call["action"])].add(str(call.get("operation", "")).partition(":")[2])
    return seen


def denied(calls: Iterable[Mapping[str, Any]], role: str) -> list[str]:
    return sorted(
        {
            f"{call['action']} on {call['resource']} ({call.get('reason')})"
            for call in calls
            if call.get("role") == role and call.get("decision") == "deny"
        }
    )


@dataclass
class RoleCoverage:
    flavour: str
    kind: str
    role: str
    statements: list[Statement]
    needed: dict[tuple[str, str], set[str]]
    called: dict[str, set[str]]
    denied: list[str]


@dataclass
class Coverage:
    roles: dict[tuple[str, str], RoleCoverage] = field(default_factory=dict)  # (kind, flavour)
    flavours: list[str] = field(default_factory=list)
    substitutions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def used(self, kind: str) -> dict[str, list[str]]:
        """Sid -> the deployments on which a call needed that statement of the ``kind`` role."""
        found: dict[str, list[str]] = defaultdict(list)
        for (k, flavour), role in sorted(self.roles.items(), key=lambda i: FLAVOURS.index(i[0][1])):
            if k == kind:
                for _, sid in role.needed:
                    found[sid].append(FLAVOUR_TITLES[flavour])
        return found


def _substitutions(snapshot: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Names that differ between deployments, replaced by placeholders in the report."""
    pairs = [(str(snapshot["account"]), "<account>"), (str(snapshot["region"]), "<region>")]
    return [*pairs, (str(snapshot["project_prefix"]), "<P>")]


KEY_ID = re.compile(r":key/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _placeholders(text: str, substitutions: list[tuple[str, str]]) -> str:
    text = KEY_ID.sub(":key/<key-id>", text)  # a new key per apply: the report stays the same
    for value, placeholder in substitutions:
        if placeholder == "<P>":
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(value)}(?=-)", placeholder, text)
        else:
            text = text.replace(value, placeholder)
    return text


def build(
    policies: Mapping[str, Any], calls: Mapping[str, list[dict[str, Any]]], unused: Mapping[str, Any]
) -> Coverage:
    """The coverage of every recorded flavour, and the problems that fail the check."""
    coverage = Coverage()
    for flavour in FLAVOURS:
        snapshot = policies.get(flavour)
        if snapshot is None:
            coverage.problems.append(
                f"no {FLAVOUR_TITLES[flavour]} deployment was recorded: run the whole suite "
                "(make test-local) before the report"
            )
            continue
        coverage.flavours.append(flavour)
        coverage.substitutions[flavour] = _substitutions(snapshot)
        lines = calls.get(flavour, [])
        for kind, entry in sorted(snapshot["roles"].items()):
            role = str(entry["role"])
            coverage.roles[(kind, flavour)] = RoleCoverage(
                flavour,
                kind,
                role,
                statements(entry["policies"]),
                necessary(lines, role),
                called(lines, role),
                denied(lines, role),
            )
    reasons = {str(k): {str(s): str(r) for s, r in (v or {}).items()} for k, v in (unused or {}).items()}
    # The three deployments create the same statements (tests/integration/terraform compares them),
    # and Terraform and CloudFormation run a subset of the behaviour suite: a statement is used when
    # a call needed it on any deployment.
    for (kind, flavour), covered in sorted(coverage.roles.items()):
        title = FLAVOUR_TITLES[flavour]
        for denial in covered.denied:
            coverage.problems.append(f"{title} {kind} role {covered.role} was denied {denial}")
    for kind in sorted({k for k, _ in coverage.roles}):
        sids = sorted({s.sid for (k, _), r in coverage.roles.items() if k == kind for s in r.statements})
        used = coverage.used(kind)
        for sid in sids:
            if sid not in used and sid not in reasons.get(kind, {}):
                coverage.problems.append(
                    f"{kind} statement {sid} is needed by no recorded call: give its reason in "
                    f"docs/iam-unused.yaml ({kind}: {{{sid}: ...}}) or remove it"
                )
    for kind, listed in sorted(reasons.items()):
        for sid in sorted(listed):
            having = [
                r
                for (k, _), r in coverage.roles.items()
                if k == kind and sid in {s.sid for s in r.statements}
            ]
            if not having:
                coverage.problems.append(
                    f"docs/iam-unused.yaml: {kind} has no statement {sid} (stale reason)"
                )
            elif sid in coverage.used(kind):
                coverage.problems.append(
                    f"docs/iam-unused.yaml: {kind} statement {sid} is needed by recorded calls: "
                    "remove its reason"
                )
    return coverage


def _code(items: Iterable[str]) -> str:
    return ", ".join(f"`{i}`" for i in items) or "-"


def render(coverage: Coverage, unused: Mapping[str, Any]) -> str:
    reasons = {str(k): {str(s): str(r) for s, r in (v or {}).items()} for k, v in (unused or {}).items()}
    out = [
        "# IAM coverage of the deployed roles",
        "",
        "<!-- Generated by scripts/iam_coverage.py from the last test session (build/iam/); do not edit.",
        "     `make test-local` fails when this file is stale. -->",
        "",
        "What each statement of each role is for, from the behaviour suite run on the local cloud with IAM",
        "enforced (tests/integration/behaviour on the SDK deployment, and its runs on the Terraform and",
        "CloudFormation deployments). A statement is **needed** by a call when it is the only Allow",
        "statement - identity or resource policy - that allowed it (the policy without that statement",
        "would deny the call); the actions listed are those calls, as `action (Operation)`. A statement no",
        "call needs is **unused**, with its reason from docs/iam-unused.yaml. `<P>` is the project",
        "prefix, `<account>` and `<region>` the deployment's, `<key-id>` the project's KMS key.",
        "",
    ]
    for kind in KINDS:
        present = [coverage.roles[(kind, f)] for f in coverage.flavours if (kind, f) in coverage.roles]
        if not present:
            continue
        out += [f"## {kind}", ""]
        header = (
            "| Sid | Actions | Resources | " + " | ".join(FLAVOUR_TITLES[r.flavour] for r in present) + " |"
        )
        out += [header, "|" + "---|" * (3 + len(present))]
        sids: dict[str, Statement] = {}
        for role in present:
            for statement in role.statements:
                sids.setdefault(statement.sid, statement)
        for sid, shown in sids.items():
            subs = coverage.substitutions[present[0].flavour]
            resources = _code(_placeholders(r, subs) for r in shown.resources)
            if shown.conditions:
                resources += f" if `{_placeholders(shown.conditions, subs)}`"
            cells = []
            for role in present:
                mine = [s for s in role.statements if s.sid == sid]
                if not mine:
                    cells.append("not in this deployment")
                    continue
                needed = role.needed.get((mine[0].policy, sid))
                elsewhere = coverage.used(kind).get(sid)
                if needed:
                    cells.append("needed by " + _code(sorted(needed)))
                elif elsewhere:
                    cells.append("not by this deployment's scenarios; needed on " + ", ".join(elsewhere))
                else:
                    cells.append("**unused**: " + reasons.get(kind, {}).get(sid, "NO REASON GIVEN"))
            out.append(f"| {sid} | {_code(shown.actions)} | {resources} | " + " | ".join(cells) + " |")
        out += ["", "Actions called (by the behaviour suite) and granted:", ""]
        out += ["| Action | " + " | ".join(FLAVOUR_TITLES[r.flavour] for r in present) + " |"]
        out += ["|" + "---|" * (1 + len(present))]
        actions = sorted(
            {a for r in present for s in r.statements for a in s.actions}
            | {a for r in present for a in r.called}
        )
        for action in actions:
            cells = []
            for role in present:
                granted = any(action in s.actions for s in role.statements)
                ops = role.called.get(action)
                if ops and granted:
                    cells.append("called: " + _code(sorted(o for o in ops if o)))
                elif ops:
                    cells.append(
                        "called, allowed by a resource policy: " + _code(sorted(o for o in ops if o))
                    )
                elif granted:
                    cells.append("granted, not called")
                else:
                    cells.append("-")
            out.append(f"| `{action}` | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def load(
    build_dir: Path, unused_file: Path
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], dict[str, Any]]:
    # One directory per pytest process (pytest-xdist workers, or "main"): tests/iam_recording.py.
    policies: dict[str, Any] = {}
    calls: dict[str, list[dict[str, Any]]] = {flavour: [] for flavour in FLAVOURS}
    processes = sorted(d for d in build_dir.iterdir() if d.is_dir()) if build_dir.is_dir() else []
    for process in processes:
        policies_file = process / "policies.json"
        if policies_file.exists():
            for flavour, deployed in json.loads(policies_file.read_text(encoding="utf-8")).items():
                policies.setdefault(flavour, deployed)  # the same deployment in every process
        for flavour in FLAVOURS:
            calls[flavour].extend(load_calls(process / "calls" / f"{flavour}.jsonl"))
    unused = yaml.safe_load(unused_file.read_text(encoding="utf-8")) if unused_file.exists() else {}
    return policies, calls, unused or {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when docs/iam-coverage.md is stale")
    parser.add_argument("--build", type=Path, default=BUILD, help="the test session's records (build/iam)")
    parser.add_argument("--unused", type=Path, default=UNUSED, help="reasons of unused statements")
    parser.add_argument("--output", type=Path, default=REPORT, help="the report (docs/iam-coverage.md)")
    args = parser.parse_args(argv)
    policies, calls, unused = load(args.build, args.unused)
    coverage = build(policies, calls, unused)
    text = render(coverage, unused)
    status = 0
    for problem in coverage.problems:
        print(f"iam_coverage: {problem}", file=sys.stderr)
        status = 1
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(
                f"iam_coverage: {args.output} is stale: run `python scripts/iam_coverage.py` after the "
                "test suite and commit it",
                file=sys.stderr,
            )
            status = 1
    elif coverage.flavours:
        args.output.write_text(text, encoding="utf-8")
        print(f"iam_coverage: wrote {args.output}")
    return status


if __name__ == "__main__":
    sys.exit(main())
