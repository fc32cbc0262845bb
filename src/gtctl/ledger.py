"""Read-only queries on the project ledger (docs/interfaces.md section 4) that gtctl needs.

Counts use the ``by-state`` index (``Select=COUNT``), so ``gtctl status`` stays cheap on big
projects; only ``report`` and the audit read every item.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gtctl.aws import Aws, translate_errors
from gtctl.deployment import Deployment
from gtstream.ledger import GSI as STATE_INDEX

__all__ = ["STATE_INDEX", "JobRow", "LedgerReader", "parse_label"]


def _plain(value: Any) -> Any:
    """DynamoDB resource values (Decimal, set) -> JSON-friendly Python values."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    return value


@dataclass
class JobRow:
    name: str
    chain_index: int | None = None
    status: str = "?"
    parent: str | None = None
    created_reason: str | None = None
    created_at: str | None = None
    ended_at: str | None = None
    counters: dict[str, int] = field(default_factory=dict)
    failure_reason: str | None = None
    in_ledger: bool = False
    in_sagemaker: bool = False


class LedgerReader:
    """Queries on one project's ledger: reads go through the Lambdas' own ``gtstream.ledger.Ledger``;
    only the per-state counts (``Select=COUNT`` on the ``by-state`` index) are gtctl's own."""

    def __init__(self, aws: Aws, deployment: Deployment) -> None:
        from gtstream.aws import Clients
        from gtstream.ledger import Ledger

        self._aws = aws
        self._dep = deployment
        aws.session  # noqa: B018 - fail early, in one line, without credentials or region
        self._ledger = Ledger(deployment.ledger_table, Clients(deployment.region))

    @property
    def ledger(self) -> Any:
        """The Lambdas' own ``gtstream.ledger.Ledger`` on this project's table (read-only use)."""
        return self._ledger

    def project(self) -> dict[str, Any]:
        with translate_errors():
            return dict(_plain(self._ledger.get_project()))

    def count_state(self, state_key: str) -> int:
        client = self._aws.client("dynamodb")
        total = 0
        kwargs: dict[str, Any] = {
            "TableName": self._dep.ledger_table,
            "IndexName": STATE_INDEX,
            "KeyConditionExpression": "state_key = :s",
            "ExpressionAttributeValues": {":s": {"S": state_key}},
            "Select": "COUNT",
        }
        with translate_errors():
            while True:
                page = client.query(**kwargs)
                total += int(page.get("Count", 0))
                if "LastEvaluatedKey" not in page:
                    return total
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def job_items(self, names: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        with translate_errors():
            for name in names:
                item = self._ledger.get_job(name)
                if item is not None:
                    found[name] = dict(_plain(item))
        return found

    def items_by_kind(self) -> dict[str, list[dict[str, Any]]]:
        """One scan of the whole table, grouped by item kind (``OBJ``, ``DROP``, ``JOB``, ``PROJECT``)."""
        kinds: dict[str, list[dict[str, Any]]] = {"OBJ": [], "DROP": [], "JOB": [], "PROJECT": []}
        with translate_errors():
            for item in self._ledger.scan_all():
                kind = str(item.get("pk", "")).split("#", 1)[0]
                kinds.setdefault(kind, []).append(dict(_plain(item)))
        return kinds


def parse_label(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw
