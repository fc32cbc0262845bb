"""The object ledger (docs/interfaces.md section 4). Every transition is a conditional write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from gtcontract.states import FAILED as FAILED
from gtcontract.states import LABELED as LABELED
from gtcontract.states import PENDING as PENDING
from gtcontract.states import QUARANTINED as QUARANTINED
from gtcontract.states import SENT as SENT
from gtcontract.states import sent_state_key
from gtstream.aws import Clients, error_code

GSI = "by-state"
PROJECT_KEY = {"pk": "PROJECT", "sk": "PROJECT"}


def table_definition(name: str) -> dict[str, Any]:
    """``CreateTable`` arguments of the ledger (docs/interfaces.md section 4): the one definition
    the SDK deployment and the tests use; Terraform and CloudFormation declare the same keys."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": attr, "AttributeType": "S"} for attr in ("pk", "sk", "state_key", "updated_at")
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": GSI,
                "KeySchema": [
                    {"AttributeName": "state_key", "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _conditional_failed(exc: BaseException) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


def _plain(value: Any) -> Any:
    """DynamoDB Decimals -> int/float, sets -> sorted lists (JSON-friendly)."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class Ledger:
    def __init__(self, table_name: str, clients: Clients, now: Callable[[], datetime] = utcnow) -> None:
        self._table_name = table_name
        self._clients = clients
        self.now = now

    @property
    def _table(self) -> Any:
        return self._clients.resource("dynamodb").Table(self._table_name)

    def _stamp(self) -> str:
        return iso(self.now())

    def _update(
        self,
        key: dict[str, str],
        update: str,
        condition: str | None,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Conditional UpdateItem; None when the condition failed, else the new item."""
        kwargs: dict[str, Any] = {
            "Key": key,
            "UpdateExpression": update,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            response = self._table.update_item(**kwargs)
        except Exception as exc:
            if _conditional_failed(exc):
                return None
            raise
        return dict(_plain(response.get("Attributes", {})))

    def _put_if_absent(self, item: dict[str, Any]) -> bool:
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except Exception as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
        return None if item is None else dict(_plain(item))

    # ---- objects -------------------------------------------------------------------------------
    def get_object(self, object_id: str) -> dict[str, Any] | None:
        return self._get(f"OBJ#{object_id}", "OBJ")

    def add_object(self, object_id: str, input_uri: str, drop_key: str) -> bool:
        """PENDING put-if-absent; True when new. An existing object only gains the drop key."""
        now = self._stamp()
        created = self._put_if_absent(
            {
                "pk": f"OBJ#{object_id}",
                "sk": "OBJ",
                "object_id": object_id,
                "state": PENDING,
                "state_key": PENDING,
                "input_uri": input_uri,
                "drop_keys": {drop_key},
                "failure_count": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
        if not created:
            self._update(
                {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
                "ADD drop_keys :k",
                "attribute_exists(pk)",
                {":k": {drop_key}},
            )
        return created

    def add_quarantined_object(self, object_id: str, drop_key: str, reason: str) -> None:
        now = self._stamp()
        if not self._put_if_absent(
            {
                "pk": f"OBJ#{object_id}",
                "sk": "OBJ",
                "object_id": object_id,
                "state": QUARANTINED,
                "state_key": QUARANTINED,
                "reason": reason,
                "drop_keys": {drop_key},
                "failure_count": 0,
                "created_at": now,
                "updated_at": now,
            }
        ):
            self._update(
                {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
                "ADD drop_keys :k",
                "attribute_exists(pk)",
                {":k": {drop_key}},
            )

    def mark_sent(self, object_id: str, job: str) -> bool:
        """PENDING or SENT(other) -> SENT(job)."""
        return (
            self._update(
                {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
                "SET #s = :sent, state_key = :sk, job = :job, updated_at = :now, sent_at = :now",
                "#s IN (:pending, :sent)",
                {
                    ":sent": SENT,
                    ":pending": PENDING,
                    ":sk": sent_state_key(job),
                    ":job": job,
                    ":now": self._stamp(),
                },
                {"#s": "state"},
            )
            is not None
        )

    def mark_labeled(self, object_id: str, job: str, input_uri: str, label: str) -> bool:
        """Anything but LABELED/QUARANTINED -> LABELED(job) with the label (JSON of the label attributes)."""
        now = self._stamp()
        return (
            self._update(
                {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
                "SET #s = :labeled, state_key = :labeled, job = :job, label = :label, updated_at = :now, "
                "object_id = :oid, input_uri = if_not_exists(input_uri, :uri), "
                "created_at = if_not_exists(created_at, :now), "
                "failure_count = if_not_exists(failure_count, :zero)",
                "attribute_not_exists(pk) OR NOT #s IN (:labeled, :quarantined)",
                {
                    ":labeled": LABELED,
                    ":quarantined": QUARANTINED,
                    ":job": job,
                    ":label": label,
                    ":now": now,
                    ":oid": object_id,
                    ":uri": input_uri,
                    ":zero": 0,
                },
                {"#s": "state"},
            )
            is not None
        )

    def record_failure(self, object_id: str, job: str, reason: str, max_failures: int) -> str | None:
        """Count one expired/failed attempt in `job` (once per job); PENDING again or FAILED past the limit.

        Returns the new state, or None when nothing changed (already counted, labeled, unknown)."""
        for _ in range(5):
            item = self.get_object(object_id)
            if item is None or item["state"] not in (PENDING, SENT) or job in item.get("failed_jobs", []):
                return None
            count = int(item.get("failure_count", 0)) + 1
            state = FAILED if count >= max_failures else PENDING
            done = self._update(
                {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
                "SET #s = :state, state_key = :state, failure_count = :count, reason = :reason, "
                "updated_at = :now "
                "ADD failed_jobs :jobs",
                "#s IN (:pending, :sent) AND failure_count = :old AND NOT contains(failed_jobs, :job)",
                {
                    ":state": state,
                    ":count": count,
                    ":old": count - 1,
                    ":reason": reason,
                    ":now": self._stamp(),
                    ":jobs": {job},
                    ":job": job,
                    ":pending": PENDING,
                    ":sent": SENT,
                },
                {"#s": "state"},
            )
            if done is not None:
                return state
        return None

    def return_to_pending(self, object_id: str, job: str) -> bool:
        """SENT(job) -> PENDING (the job ended before the object was worked on)."""
        return (
            self._update(
                {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
                "SET #s = :pending, state_key = :pending, updated_at = :now",
                "state_key = :sk",
                {":pending": PENDING, ":sk": sent_state_key(job), ":now": self._stamp()},
                {"#s": "state"},
            )
            is not None
        )

    def iter_state(
        self, state_key: str, updated_before: str | None = None, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Objects by state_key via the `by-state` GSI, oldest first, paginated (bounded memory)."""
        from boto3.dynamodb.conditions import Key

        condition: Any = Key("state_key").eq(state_key)
        if updated_before is not None:
            condition = condition & Key("updated_at").lt(updated_before)
        kwargs: dict[str, Any] = {"IndexName": GSI, "KeyConditionExpression": condition, "Limit": page_size}
        while True:
            response = self._table.query(**kwargs)
            for item in response.get("Items", []):
                yield dict(_plain(item))
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def has_state(self, state_key: str) -> bool:
        return next(self.iter_state(state_key), None) is not None

    def scan_all(self) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        while True:
            response = self._table.scan(**kwargs)
            for item in response.get("Items", []):
                yield dict(_plain(item))
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # ---- drops ---------------------------------------------------------------------------------
    def get_drop(self, drop_key: str) -> dict[str, Any] | None:
        return self._get(f"DROP#{drop_key}", "DROP")

    def record_drop(
        self,
        drop_key: str,
        object_id: str,
        state: str,
        reason: str | None = None,
        quarantine_key: str | None = None,
    ) -> bool:
        """Record what intake did with a drop key; a re-upload with other content replaces it."""
        item: dict[str, Any] = {
            "pk": f"DROP#{drop_key}",
            "sk": "DROP",
            "drop_key": drop_key,
            "object_id": object_id,
            "state": state,
            "created_at": self._stamp(),
        }
        if reason:
            item["reason"] = reason
        if quarantine_key:
            item["quarantine_key"] = quarantine_key
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR object_id <> :oid",
                ExpressionAttributeValues={":oid": object_id},
            )
        except Exception as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    # ---- project -------------------------------------------------------------------------------
    def get_project(self) -> dict[str, Any]:
        return self._get("PROJECT", "PROJECT") or {}

    def acquire_lock(self, owner: str, lease_seconds: int) -> bool:
        now = self.now()
        return (
            self._update(
                PROJECT_KEY,
                "SET lock_owner = :me, lock_expires_at = :exp, updated_at = :now",
                "attribute_not_exists(lock_owner) OR lock_expires_at < :now OR lock_owner = :me",
                {":me": owner, ":exp": iso(now + timedelta(seconds=lease_seconds)), ":now": iso(now)},
            )
            is not None
        )

    def release_lock(self, owner: str) -> None:
        self._update(PROJECT_KEY, "REMOVE lock_owner, lock_expires_at", "lock_owner = :me", {":me": owner})

    def set_active_job(self, owner: str, job: str, chain_index: int, label_attribute_name: str) -> bool:
        """Only the lock holder moves the chain forward, one index at a time."""
        return (
            self._update(
                PROJECT_KEY,
                "SET active_job = :job, chain_index = :idx, label_attribute_name = :attr, updated_at = :now, "
                "last_sent_at = :now",
                "lock_owner = :me AND (attribute_not_exists(chain_index) OR chain_index < :idx)",
                {
                    ":job": job,
                    ":idx": chain_index,
                    ":attr": label_attribute_name,
                    ":me": owner,
                    ":now": self._stamp(),
                },
            )
            is not None
        )

    def clear_active_job(self, job: str) -> bool:
        return (
            self._update(
                PROJECT_KEY,
                "REMOVE active_job SET updated_at = :now, last_ended_job = :job",
                "active_job = :job",
                {":job": job, ":now": self._stamp()},
            )
            is not None
        )

    def record_decision(self, decision: str, reason: str) -> bool:
        """Record the project's last decision; False when it was already the last one (no re-notify)."""
        return (
            self._update(
                PROJECT_KEY,
                "SET last_decision = :d, last_reason = :r, updated_at = :now",
                "attribute_not_exists(last_decision) OR last_decision <> :d OR last_reason <> :r",
                {":d": decision, ":r": reason, ":now": self._stamp()},
            )
            is not None
        )

    def touch_sent(self) -> None:
        self._update(PROJECT_KEY, "SET last_sent_at = :now", None, {":now": self._stamp()})

    def mark_idle_warned(self, job: str) -> bool:
        return (
            self._update(
                PROJECT_KEY,
                "SET idle_warned_job = :job, idle_warned_at = :now",
                "attribute_not_exists(idle_warned_job) OR idle_warned_job <> :job",
                {":job": job, ":now": self._stamp()},
            )
            is not None
        )

    # ---- jobs ----------------------------------------------------------------------------------
    def get_job(self, job: str) -> dict[str, Any] | None:
        return self._get(f"JOB#{job}", "JOB")

    def add_job(
        self, job: str, chain_index: int, parent: str | None, reason: str, input_manifest_uri: str | None
    ) -> bool:
        item: dict[str, Any] = {
            "pk": f"JOB#{job}",
            "sk": "JOB",
            "job_name": job,
            "chain_index": chain_index,
            "created_reason": reason,
            "status": "CREATING",
            "created_at": self._stamp(),
            "manifest_merged": False,
        }
        if parent:
            item["parent"] = parent
        if input_manifest_uri:
            item["input_manifest_uri"] = input_manifest_uri
        return self._put_if_absent(item)

    def set_job_status(self, job: str, status: str, **fields: Any) -> None:
        sets = ["#st = :status", "updated_at = :now"]
        values: dict[str, Any] = {":status": status, ":now": self._stamp()}
        for i, (name, value) in enumerate(fields.items()):
            sets.append(f"{name} = :v{i}")
            values[f":v{i}"] = value
        self._update(
            {"pk": f"JOB#{job}", "sk": "JOB"},
            "SET " + ", ".join(sets),
            "attribute_not_exists(ended_at)",
            values,
            {"#st": "status"},
        )

    def mark_job_ended(
        self, job: str, status: str, counters: dict[str, int], failure_reason: str | None
    ) -> bool:
        """Record the end once (the manifest was merged); False when it was already recorded."""
        values: dict[str, Any] = {
            ":status": status,
            ":now": self._stamp(),
            ":counters": counters,
            ":true": True,
            ":reason": failure_reason or "",
            ":job": job,
            ":zero": 0,
            ":reason_text": "",
        }
        return (
            self._update(
                {"pk": f"JOB#{job}", "sk": "JOB"},
                "SET #st = :status, ended_at = :now, counters = :counters, manifest_merged = :true, "
                "failure_reason = :reason, job_name = :job, chain_index = if_not_exists(chain_index, :zero), "
                "created_reason = if_not_exists(created_reason, :reason_text)",
                "attribute_not_exists(ended_at)",
                values,
                {"#st": "status"},
            )
            is not None
        )

    def claim_job_check(self, job: str, attempt: int, message_id: str) -> bool:
        """Let one check message per attempt continue the job's check loop.

        True for the first message of ``attempt`` (and for that same message again, when its first
        run failed before it sent the next check); False for any other message of an attempt
        already claimed or passed, so duplicated checks never multiply."""
        return (
            self._update(
                {"pk": f"JOB#{job}", "sk": "JOB"},
                "SET check_attempt = :n, check_message = :m, updated_at = :now",
                "attribute_exists(pk) AND attribute_not_exists(ended_at) AND "
                "(attribute_not_exists(check_attempt) OR check_attempt < :n OR "
                "(check_attempt = :n AND check_message = :m))",
                {":n": attempt, ":m": message_id, ":now": self._stamp()},
            )
            is not None
        )

    def request_roll_over(self, job: str, config_version: str) -> bool:
        """Record, once per job, that it is stopped to roll over to ``config_version``; False when a
        roll-over of this job was already requested (or the job ended)."""
        return (
            self._update(
                {"pk": f"JOB#{job}", "sk": "JOB"},
                "SET roll_over_to = :v, roll_over_at = :now",
                "attribute_exists(pk) AND attribute_not_exists(roll_over_to) "
                "AND attribute_not_exists(ended_at)",
                {":v": config_version, ":now": self._stamp()},
            )
            is not None
        )

    def set_merged_lines(self, job: str, lines: int) -> None:
        """Checkpoint of a long output-manifest merge (only moves forward)."""
        self._update(
            {"pk": f"JOB#{job}", "sk": "JOB"},
            "SET merged_lines = :n",
            "attribute_not_exists(merged_lines) OR merged_lines < :n",
            {":n": lines},
        )

    def set_job_decision(self, job: str, decision: str, reason: str) -> None:
        self._update(
            {"pk": f"JOB#{job}", "sk": "JOB"},
            "SET decision = :d, decision_reason = :r, updated_at = :now",
            "attribute_exists(pk)",
            {":d": decision, ":r": reason, ":now": self._stamp()},
        )

    def mark_queue_deleted(self, job: str) -> bool:
        """Record that the ended job's ``GroundTruth-<job>`` queue is gone (reconcile); False if it was."""
        return (
            self._update(
                {"pk": f"JOB#{job}", "sk": "JOB"},
                "SET queue_deleted_at = :now",
                "attribute_exists(ended_at) AND attribute_not_exists(queue_deleted_at)",
                {":now": self._stamp()},
            )
            is not None
        )

    # ---- worker task events --------------------------------------------------------------------
    def count_worker_event(self, window: str, state: str) -> dict[str, Any]:
        """Count one worker task event in a time window; returns the window's counters."""
        item = self._update(
            {"pk": f"WORKERS#{window}", "sk": "WORKERS"},
            "ADD #st :one, #total :one SET updated_at = :now",
            None,
            {":one": 1, ":now": self._stamp()},
            {"#st": state, "#total": "total"},
        )
        return item or {}

    def mark_spike_notified(self, window: str) -> bool:
        return (
            self._update(
                {"pk": f"WORKERS#{window}", "sk": "WORKERS"},
                "SET spike_notified = :true",
                "attribute_not_exists(spike_notified)",
                {":true": True},
            )
            is not None
        )
