"""The object ledger (docs/interfaces.md section 4). Every transition is a conditional write."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from gtcontract.states import DROP_ACCEPTED, VERDICT_ACCEPTED, VERDICT_REJECTED, sent_state_key
from gtcontract.states import FAILED as FAILED
from gtcontract.states import LABELED as LABELED
from gtcontract.states import PENDING as PENDING
from gtcontract.states import QUARANTINED as QUARANTINED
from gtcontract.states import SENT as SENT
from gtstream.aws import Clients, error_code

GSI = "by-state"
# TransactWriteItems takes up to 100 actions (API_TransactWriteItems; moto 5.2 the same). We send at
# most 25: a cancelled transaction is written again item by item, which then costs 25 writes at most.
TRANSACTION_ITEMS = 25
PROJECT_KEY = {"pk": "PROJECT", "sk": "PROJECT"}
# What a job's output says of one object (Ledger.merge_outcomes): ("labeled", id, input URI, label
# [, round]), ("failed", id, reason) or ("returned", id).
JobOutcome = tuple[str, ...]
# Review verdicts (a review stage's objects, ``verdict``).
ACCEPTED, REJECTED = VERDICT_ACCEPTED, VERDICT_REJECTED


def round_condition(review_round: int, value: str = ":rr") -> str:
    """The object is in labeling round ``review_round`` (no ``review_round`` attribute: round 0)."""
    if review_round:
        return f"review_round = {value}"
    return f"attribute_not_exists(review_round) OR review_round = {value}"


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
    """The ledger table through the low-level DynamoDB client (thread-safe, created once per
    container by ``Clients``); values are (de)serialised with boto3's DynamoDB type converters."""

    def __init__(self, table_name: str, clients: Clients, now: Callable[[], datetime] = utcnow) -> None:
        self._table_name = table_name
        self._clients = clients
        self.now = now
        self._types: tuple[Any, Any] | None = None

    @property
    def _ddb(self) -> Any:
        return self._clients.client("dynamodb")

    def _ser(self, values: dict[str, Any]) -> dict[str, Any]:
        if self._types is None:
            from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

            self._types = (TypeSerializer(), TypeDeserializer())
        serialize = self._types[0].serialize
        return {k: serialize(v) for k, v in values.items()}

    def _de(self, item: dict[str, Any]) -> dict[str, Any]:
        if self._types is None:
            self._ser({})
        assert self._types is not None
        deserialize = self._types[1].deserialize
        return dict(_plain({k: deserialize(v) for k, v in item.items()}))

    def _stamp(self) -> str:
        return iso(self.now())

    def _update_request(
        self,
        key: dict[str, str],
        update: str,
        condition: str | None,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The arguments of an UpdateItem (also an ``Update`` of TransactWriteItems)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": self._ser(key),
            "UpdateExpression": update,
            "ExpressionAttributeValues": self._ser(values),
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = names
        return kwargs

    def _update(
        self,
        key: dict[str, str],
        update: str,
        condition: str | None,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
        returns: str = "ALL_NEW",
    ) -> dict[str, Any] | None:
        """Conditional UpdateItem; None when the condition failed, else the new item ({} when
        ``returns`` is NONE: the caller only needs to know that it was written)."""
        kwargs = self._update_request(key, update, condition, values, names)
        kwargs["ReturnValues"] = returns
        try:
            response = self._ddb.update_item(**kwargs)
        except Exception as exc:
            if _conditional_failed(exc):
                return None
            raise
        return self._de(response.get("Attributes", {}))

    def _put_if_absent(self, item: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
        """PutItem unless the key exists: (True, None) when written, else (False, the existing item).

        The existing item comes back with the failed condition (``ReturnValuesOnConditionCheckFailure``,
        docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html): no read first."""
        try:
            self._ddb.put_item(**self._put_if_absent_request(item))
        except Exception as exc:
            if _conditional_failed(exc):
                old = getattr(exc, "response", {}).get("Item")
                return False, self._de(old) if old else None
            raise
        return True, None

    def _put_if_absent_request(self, item: dict[str, Any]) -> dict[str, Any]:
        """The arguments of a PutItem unless the key exists, the old item returned when it does
        (also a ``Put`` of TransactWriteItems, which returns it in the cancellation reasons)."""
        return {
            "TableName": self._table_name,
            "Item": self._ser(item),
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._ddb.get_item(
            TableName=self._table_name, Key=self._ser({"pk": pk, "sk": sk}), ConsistentRead=True
        ).get("Item")
        return None if item is None else self._de(item)

    # ---- objects -------------------------------------------------------------------------------
    def get_object(self, object_id: str) -> dict[str, Any] | None:
        return self._get(f"OBJ#{object_id}", "OBJ")

    def add_object(self, object_id: str, input_uri: str, drop_key: str) -> bool:
        """PENDING put-if-absent; True when new. An existing object only gains the drop key."""
        return self.put_new_object(object_id, input_uri, drop_key)[0]

    def put_new_object(
        self, object_id: str, input_uri: str, drop_key: str
    ) -> tuple[bool, dict[str, Any] | None]:
        """PENDING put-if-absent, one conditional write: (True, None) when new, else (False, the
        object as it was). An existing object only gains the drop key (a write only when it lacks it)."""
        created, existing = self._put_if_absent(
            self._new_object_item(object_id, input_uri, {drop_key}, self._stamp())
        )
        if not created:
            self._add_drop_key(object_id, drop_key, existing)
        return created, existing

    @staticmethod
    def _object_item(object_id: str, state: str, now: str, **fields: Any) -> dict[str, Any]:
        """A new object's item in ``state`` (its first write), with `fields`."""
        return {
            "pk": f"OBJ#{object_id}",
            "sk": "OBJ",
            "object_id": object_id,
            "state": state,
            "state_key": state,
            **fields,
            "failure_count": 0,
            "created_at": now,
            "updated_at": now,
        }

    def _new_object_item(
        self, object_id: str, input_uri: str, drop_keys: set[str], now: str
    ) -> dict[str, Any]:
        return self._object_item(object_id, PENDING, now, input_uri=input_uri, drop_keys=drop_keys)

    def record_batch(
        self, claims: Sequence[tuple[str, str, Sequence[str]]]
    ) -> dict[str, dict[str, Any] | None]:
        """A batch of drops in the ledger: each claim (object id, input URI, its drop keys) a new
        PENDING object unless it exists (then it only gains its drop keys), and a drop record of
        each key (a key in two claims: the last one's object) -- together in TransactWriteItems
        requests of up to TRANSACTION_ITEMS actions, an object with its drop records, so a batch of
        10 new images costs one request.
        Returns, per object id, None when it was created, else the object as it was.

        A claim is a Put conditional on ``attribute_not_exists(pk)`` with
        ``ReturnValuesOnConditionCheckFailure=ALL_OLD``: when the object exists the transaction is
        cancelled (``TransactionCanceledException``) and its ``CancellationReasons``, one per action
        in order, carry the existing item (docs.aws.amazon.com/amazondynamodb/latest/APIReference/
        API_TransactWriteItems.html); it is sent again without that claim. Any other reason (a
        conflicting write, throttling) and the chunk is written item by item, each with its own
        condition (:meth:`put_new_object`, :meth:`record_drop`). A transactional write costs twice
        the write units of a plain one (DynamoDB pricing); in exchange an object and its drop
        records are written together or not at all (unless one object has more drops in the batch
        than fit in one request)."""
        keys: dict[str, dict[str, None]] = {}  # object id -> its drop keys, in order, once each
        uris: dict[str, str] = {}
        records: dict[str, str] = {}  # drop key -> object id
        for object_id, input_uri, drop_keys in claims:
            uris.setdefault(object_id, input_uri)
            keys.setdefault(object_id, {}).update(dict.fromkeys(drop_keys))
            records.update(dict.fromkeys(drop_keys, object_id))
        chunks: list[tuple[list[str], list[str]]] = [([], [])]  # (object ids, drop keys)
        for object_id, object_keys in keys.items():
            mine = [k for k in object_keys if records.get(k) == object_id]
            if sum(map(len, chunks[-1])) + 1 + len(mine) > TRANSACTION_ITEMS:
                chunks.append(([], []))
            chunks[-1][0].append(object_id)
            for key in mine:
                if sum(map(len, chunks[-1])) == TRANSACTION_ITEMS:
                    chunks.append(([], []))
                chunks[-1][1].append(key)
        result: dict[str, dict[str, Any] | None] = {}
        for objects, drop_keys in chunks:
            claimed = {o: (uris[o], list(keys[o])) for o in objects}
            result.update(self._record_chunk(claimed, {k: records[k] for k in drop_keys}))
        return result

    def _record_chunk(
        self, claims: dict[str, tuple[str, list[str]]], drops: dict[str, str]
    ) -> dict[str, dict[str, Any] | None]:
        now = self._stamp()
        new = dict(claims)
        existing: dict[str, dict[str, Any]] = {}
        drop_puts: list[tuple[str | None, dict[str, Any]]] = [
            (
                None,
                {
                    "Put": {
                        "TableName": self._table_name,
                        "Item": self._ser(self._drop_item(k, o, DROP_ACCEPTED, now)),
                    }
                },
            )
            for k, o in drops.items()
        ]
        # Each cancelled answer names at least one existing object (or it is written item by item):
        # at most one round per claim. That every failed condition is named in one answer is not
        # documented; one round is what DynamoDB's per-action reasons allow.
        for _ in range(len(claims) + 1):
            actions = self._claim_actions(new, existing, claims, now) + drop_puts
            try:
                if actions:
                    self._ddb.transact_write_items(TransactItems=[action for _, action in actions])
            except Exception as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                found = self._existing_claims(exc, [object_id for object_id, _ in actions])
                if found is None:
                    break  # not only claims of existing objects: item by item
                for object_id, item in found.items():
                    existing[object_id] = item
                    new.pop(object_id)
                continue
            return {**dict.fromkeys(new), **existing}
        # Item by item, each with its own condition (what the transaction would have written).
        result: dict[str, dict[str, Any] | None] = {}
        for object_id, (uri, drop_keys) in claims.items():
            created, old = self.put_new_object(object_id, uri, drop_keys[0])
            for key in drop_keys[1:]:
                self._add_drop_key(object_id, key, old)
            result[object_id] = None if created else (old or {})
        for key, object_id in drops.items():
            self.record_drop(key, object_id, DROP_ACCEPTED)
        return result

    def _claim_actions(
        self,
        new: dict[str, tuple[str, list[str]]],
        existing: dict[str, dict[str, Any]],
        claims: dict[str, tuple[str, list[str]]],
        now: str,
    ) -> list[tuple[str | None, dict[str, Any]]]:
        """(object id of a claim or None, the TransactWriteItems action): a conditional Put of each
        new object, an ``ADD drop_keys`` of each existing one that lacks some of its keys."""
        actions: list[tuple[str | None, dict[str, Any]]] = [
            (
                object_id,
                {
                    "Put": self._put_if_absent_request(
                        self._new_object_item(object_id, uri, set(drop_keys), now)
                    )
                },
            )
            for object_id, (uri, drop_keys) in new.items()
        ]
        for object_id, item in existing.items():
            add = set(claims[object_id][1]) - set(item.get("drop_keys", []))
            if add:
                actions.append((None, {"Update": self._drop_keys_update(object_id, add)}))
        return actions

    def _existing_claims(
        self, exc: BaseException, claimed: list[str | None]
    ) -> dict[str, dict[str, Any]] | None:
        """The objects whose claim failed on its condition, with the item each returned; None when
        any action failed for another reason (or a claim failed without its item)."""
        reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
        if len(reasons) != len(claimed):
            return None
        found: dict[str, dict[str, Any]] = {}
        for object_id, reason in zip(claimed, reasons, strict=True):
            code = reason.get("Code") or "None"
            if code == "None":
                continue
            if code != "ConditionalCheckFailed" or object_id is None or not reason.get("Item"):
                return None
            found[object_id] = self._de(reason["Item"])
        return found or None

    def _drop_keys_update(self, object_id: str, drop_keys: set[str]) -> dict[str, Any]:
        """An existing object gains `drop_keys`: the UpdateItem arguments."""
        key = {"pk": f"OBJ#{object_id}", "sk": "OBJ"}
        return self._update_request(key, "ADD drop_keys :k", "attribute_exists(pk)", {":k": drop_keys})

    def _add_drop_key(self, object_id: str, drop_key: str, existing: dict[str, Any] | None) -> None:
        if existing is not None and drop_key in existing.get("drop_keys", []):
            return
        self._try(self._drop_keys_update(object_id, {drop_key}))

    def add_quarantined_object(self, object_id: str, drop_key: str, reason: str) -> None:
        now = self._stamp()
        created, existing = self._put_if_absent(
            self._object_item(object_id, QUARANTINED, now, reason=reason, drop_keys={drop_key})
        )
        if not created:
            self._add_drop_key(object_id, drop_key, existing)

    def _sent_update(self, object_id: str, job: str, now: str) -> dict[str, Any]:
        """PENDING or SENT(other) -> SENT(job): the UpdateItem arguments."""
        return self._update_request(
            {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
            "SET #s = :sent, state_key = :sk, job = :job, updated_at = :now, sent_at = :now",
            "#s IN (:pending, :sent)",
            {":sent": SENT, ":pending": PENDING, ":sk": sent_state_key(job), ":job": job, ":now": now},
            {"#s": "state"},
        )

    def mark_sent(self, object_id: str, job: str) -> bool:
        """PENDING or SENT(other) -> SENT(job)."""
        return self._try(self._sent_update(object_id, job, self._stamp()))

    def mark_sent_many(self, object_ids: Sequence[str], job: str, *, touch: bool = False) -> list[str]:
        """:meth:`mark_sent` for many objects, up to TRANSACTION_ITEMS per TransactWriteItems request;
        ``touch`` also sets the project's ``last_sent_at`` (in the last request). Returns the ids marked.

        A transaction is all or nothing: when one condition fails (an object labeled or quarantined
        meanwhile) or it conflicts with another write, it is cancelled with
        ``TransactionCanceledException`` (docs.aws.amazon.com/amazondynamodb/latest/APIReference/
        API_TransactWriteItems.html) and its objects are marked one by one, each with its condition."""
        ids = list(dict.fromkeys(object_ids))
        marked: list[str] = []
        size = TRANSACTION_ITEMS - 1 if touch else TRANSACTION_ITEMS
        for start in range(0, len(ids), size):
            last = start + size >= len(ids)
            marked.extend(self._mark_sent_together(ids[start : start + size], job, touch and last))
        if touch and not ids:
            self.touch_sent()
        return marked

    def _mark_sent_together(self, ids: list[str], job: str, touch: bool) -> list[str]:
        now = self._stamp()
        updates = [self._sent_update(object_id, job, now) for object_id in ids]
        if touch:
            updates.append(self._update_request(PROJECT_KEY, "SET last_sent_at = :now", None, {":now": now}))
        if self._together(updates):
            return ids
        marked = [object_id for object_id in ids if self.mark_sent(object_id, job)]
        if touch:
            self.touch_sent()
        return marked

    def _try(self, request: dict[str, Any]) -> bool:
        """One conditional UpdateItem built by a ``*_update`` method; False when its condition failed."""
        try:
            self._ddb.update_item(**request)
        except Exception as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def _labeled_update(
        self,
        object_id: str,
        job: str,
        input_uri: str,
        label: str,
        now: str,
        condition: str = "attribute_not_exists(pk) OR NOT #s IN (:labeled, :quarantined)",
        extra: dict[str, Any] | None = None,
        review_round: int = 0,
    ) -> dict[str, Any]:
        # A label of an earlier round (a review rejected it since) is no label of the object.
        condition = f"({condition}) AND ({round_condition(review_round)})"
        extra = {**(extra or {}), ":rr": review_round}
        return self._update_request(
            {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
            "SET #s = :labeled, state_key = :labeled, job = :job, label = :label, updated_at = :now, "
            "object_id = :oid, input_uri = if_not_exists(input_uri, :uri), "
            "created_at = if_not_exists(created_at, :now), "
            "failure_count = if_not_exists(failure_count, :zero)",
            condition,
            {
                ":labeled": LABELED,
                **({":quarantined": QUARANTINED} if ":quarantined" in condition else {}),
                ":job": job,
                ":label": label,
                ":now": now,
                ":oid": object_id,
                ":uri": input_uri,
                ":zero": 0,
                **(extra or {}),
            },
            {"#s": "state"},
        )

    def mark_labeled(
        self, object_id: str, job: str, input_uri: str, label: str, review_round: int = 0
    ) -> bool:
        """Anything but LABELED/QUARANTINED -> LABELED(job) with the label (JSON of the label
        attributes), when the label is of the object's round (``review_round``)."""
        return self._try(
            self._labeled_update(object_id, job, input_uri, label, self._stamp(), review_round=review_round)
        )

    def mark_labeled_live(
        self, object_id: str, job: str, input_uri: str, label: str, review_round: int = 0
    ) -> bool:
        """A label published on the output topic while ``job`` runs (gtstream.live_labels): the
        write :meth:`mark_labeled` does, only for an object sent to that job (SENT(job)), or still
        PENDING (the label can arrive before the send is recorded) and not failed in it. So the
        end-of-job merge that follows writes nothing more (the object is LABELED), and a late or
        duplicated message changes nothing: not a labeled object, nor one the merge of its job
        returned or failed, nor one sent to a later job."""
        return self._try(
            self._labeled_update(
                object_id,
                job,
                input_uri,
                label,
                self._stamp(),
                condition="state_key = :sent_here OR (#s = :pending AND NOT contains(failed_jobs, :job))",
                extra={":sent_here": sent_state_key(job), ":pending": PENDING},
                review_round=review_round,
            )
        )

    def _failure_update(
        self, object_id: str, job: str, reason: str, max_failures: int, now: str
    ) -> dict[str, Any]:
        """One more failed attempt while the object stays under the limit: the count and the job are
        added by the write itself (no read), its condition holds it to once per job."""
        return self._update_request(
            {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
            "SET #s = :pending, state_key = :pending, reason = :reason, updated_at = :now "
            "ADD failure_count :one, failed_jobs :jobs",
            "#s IN (:pending, :sent) AND NOT contains(failed_jobs, :job) AND failure_count < :last",
            {
                ":pending": PENDING,
                ":sent": SENT,
                ":reason": reason,
                ":now": now,
                ":one": 1,
                ":jobs": {job},
                ":job": job,
                ":last": max_failures - 1,
            },
            {"#s": "state"},
        )

    def record_failure(self, object_id: str, job: str, reason: str, max_failures: int) -> str | None:
        """Count one expired/failed attempt in `job` (once per job); PENDING again or FAILED past the limit.

        Returns the new state, or None when nothing changed (already counted, labeled, unknown).
        One conditional write when the object stays under the limit; reaching the limit, or a
        failed condition, reads the object first."""
        if self._try(self._failure_update(object_id, job, reason, max_failures, self._stamp())):
            return PENDING
        key = {"pk": f"OBJ#{object_id}", "sk": "OBJ"}
        for _ in range(5):
            item = self.get_object(object_id)
            if item is None or item["state"] not in (PENDING, SENT) or job in item.get("failed_jobs", []):
                return None
            count = int(item.get("failure_count", 0)) + 1
            state = FAILED if count >= max_failures else PENDING
            done = self._update(
                key,
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
                returns="NONE",
            )
            if done is not None:
                return state
        return None

    def _returned_update(self, object_id: str, job: str, now: str) -> dict[str, Any]:
        return self._update_request(
            {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
            "SET #s = :pending, state_key = :pending, updated_at = :now",
            "state_key = :sk",
            {":pending": PENDING, ":sk": sent_state_key(job), ":now": now},
            {"#s": "state"},
        )

    def return_to_pending(self, object_id: str, job: str) -> bool:
        """SENT(job) -> PENDING (the job ended before the object was worked on)."""
        return self._try(self._returned_update(object_id, job, self._stamp()))

    # ---- a job end's writes, TRANSACTION_ITEMS objects per request --------------------------------
    def merge_outcomes(self, job: str, outcomes: Sequence[JobOutcome], max_failures: int) -> list[Any]:
        """Write a job's outcome for up to TRANSACTION_ITEMS distinct objects in one
        TransactWriteItems request, each with its own condition (see :meth:`_together`).

        An outcome is ``("labeled", object_id, input_uri, label)``, ``("failed", object_id,
        reason)`` or ``("returned", object_id)``; the result of each is what :meth:`mark_labeled`,
        :meth:`record_failure` or :meth:`return_to_pending` returns."""
        now = self._stamp()
        requests: list[dict[str, Any]] = []
        singles: list[Callable[[], Any]] = []
        for outcome in outcomes:
            kind, object_id = outcome[0], outcome[1]
            if kind == "labeled":
                review_round = int(outcome[4]) if len(outcome) > 4 else 0
                requests.append(
                    self._labeled_update(
                        object_id, job, outcome[2], outcome[3], now, review_round=review_round
                    )
                )
                singles.append(
                    partial(self.mark_labeled, object_id, job, outcome[2], outcome[3], review_round)
                )
                continue
            if kind == "failed":
                requests.append(self._failure_update(object_id, job, outcome[2], max_failures, now))
                singles.append(partial(self.record_failure, object_id, job, outcome[2], max_failures))
                continue
            requests.append(self._returned_update(object_id, job, now))
            singles.append(partial(self.return_to_pending, object_id, job))
        if self._together(requests):
            return [PENDING if outcome[0] == "failed" else True for outcome in outcomes]
        return [single() for single in singles]

    def _together(self, updates: list[dict[str, Any]]) -> bool:
        """The updates (of distinct items) in one TransactWriteItems request; False when it was
        cancelled (a condition failed, a conflicting write: ``TransactionCanceledException``,
        API_TransactWriteItems), and nothing of it was written -- the caller then writes each
        alone, with its own condition. A merge that runs for the first time passes every condition,
        so cancelled transactions cost only on a retry (at most one checkpoint interval)."""
        if not updates:
            return True
        try:
            self._ddb.transact_write_items(TransactItems=[{"Update": update} for update in updates])
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            return False
        return True

    def iter_state(
        self,
        state_key: str,
        updated_before: str | None = None,
        page_size: int = 1000,
        attributes: Sequence[str] = (),
    ) -> Iterator[dict[str, Any]]:
        """Objects by state_key via the `by-state` GSI, oldest first, paginated (bounded memory);
        only `attributes` of each when given (less to transfer and parse)."""
        condition = "state_key = :sk"
        values: dict[str, Any] = {":sk": state_key}
        if updated_before is not None:
            condition += " AND updated_at < :before"
            values[":before"] = updated_before
        kwargs: dict[str, Any] = {
            "TableName": self._table_name,
            "IndexName": GSI,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": self._ser(values),
            "Limit": page_size,
        }
        if attributes:
            kwargs["ProjectionExpression"] = ", ".join(f"#a{i}" for i in range(len(attributes)))
            kwargs["ExpressionAttributeNames"] = {f"#a{i}": name for i, name in enumerate(attributes)}
        yield from self._pages("query", kwargs)

    def has_state(self, state_key: str) -> bool:
        return next(self.iter_state(state_key, page_size=1), None) is not None

    def scan_all(self) -> Iterator[dict[str, Any]]:
        yield from self._pages("scan", {"TableName": self._table_name})

    def _pages(self, operation: str, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        call = getattr(self._ddb, operation)
        while True:
            response = call(**kwargs)
            for item in response.get("Items", []):
                yield self._de(item)
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # ---- review stages (docs/interfaces.md "Stages") ----------------------------------------------
    def put_stage_object(
        self, object_id: str, input_uri: str, line: str, review_round: int, upstream_job: str
    ) -> tuple[str, str | None]:
        """An upstream stage's output line for this stage: ("accepted", PENDING) for a new object;
        ("accepted", PENDING) again when the line is of a newer round than the object's (the
        upstream relabeled it: the old review is cleared); else ("duplicate", the object's state).
        Each write is conditional on the round, which never goes back."""
        now = self._stamp()
        item = self._object_item(
            object_id,
            PENDING,
            now,
            input_uri=input_uri,
            input_line=line,
            review_round=review_round,
            upstream_job=upstream_job,
        )
        created, existing = self._put_if_absent(item)
        if created:
            return "accepted", PENDING
        if existing is not None and int(existing.get("review_round", 0)) >= review_round:
            return "duplicate", str(existing.get("state", ""))
        written = self._update(
            {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
            "SET #s = :pending, state_key = :pending, input_line = :line, review_round = :rr, "
            "upstream_job = :up, updated_at = :now REMOVE label, verdict, reason",
            "attribute_exists(pk) AND #s <> :quarantined AND "
            "(attribute_not_exists(review_round) OR review_round < :rr)",
            {
                ":pending": PENDING,
                ":line": line,
                ":rr": review_round,
                ":up": upstream_job,
                ":now": now,
                ":quarantined": QUARANTINED,
            },
            {"#s": "state"},
            returns="NONE",
        )
        if written is not None:
            return "accepted", PENDING
        current = self.get_object(object_id) or {}
        return "duplicate", str(current.get("state", ""))

    def record_verdict(self, object_id: str, job: str, review_round: int, verdict: str) -> bool:
        """A review stage's decision on its label of ``job`` in ``review_round`` (once)."""
        return (
            self._update(
                {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
                "SET verdict = :v, updated_at = :now",
                f"#s = :labeled AND job = :job AND attribute_not_exists(verdict) AND "
                f"({round_condition(review_round)})",
                {":v": verdict, ":now": self._stamp(), ":labeled": LABELED, ":job": job, ":rr": review_round},
                {"#s": "state"},
                returns="NONE",
            )
            is not None
        )

    def mark_rejection_sent(self, object_id: str, review_round: int) -> bool:
        """The rejected message of ``review_round`` was sent (after it is sent: a crash in between
        sends it again, which the upstream stage ignores)."""
        return (
            self._update(
                {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
                "SET rejection_sent_round = :rr",
                "attribute_not_exists(rejection_sent_round) OR rejection_sent_round < :rr",
                {":rr": review_round},
                returns="NONE",
            )
            is not None
        )

    def reopen_rejected(
        self, object_id: str, review_round: int, rejected_by: str, reason: str, max_rounds: int
    ) -> str | None:
        """A downstream review rejected this stage's label of ``review_round``: LABELED -> PENDING
        in round ``review_round + 1`` (label cleared, ``rejected_by`` and the reason recorded), or
        FAILED (held back, with the reason; the rejected label kept) when that round would reach
        ``max_rounds``. Returns the
        new state; None when nothing changed (a duplicate or late message, an unknown object)."""
        next_round = review_round + 1
        held = next_round >= max_rounds
        state = FAILED if held else PENDING
        why = (
            f"rejected by {rejected_by} in round {review_round}: {reason}; held back: "
            f"{next_round} labeling round(s) reached MAX_REVIEW_ROUNDS={max_rounds}"
            if held
            else f"rejected by {rejected_by} in round {review_round}: {reason}"
        )
        written = self._update(
            {"pk": f"OBJ#{object_id}", "sk": "OBJ"},
            "SET #s = :state, state_key = :state, review_round = :next, rejected_by = :by, "
            "reason = :why, updated_at = :now" + ("" if held else " REMOVE label"),
            f"#s = :labeled AND ({round_condition(review_round)})",
            {
                ":state": state,
                ":next": next_round,
                ":by": rejected_by,
                ":why": why,
                ":now": self._stamp(),
                ":labeled": LABELED,
                ":rr": review_round,
            },
            {"#s": "state"},
            returns="NONE",
        )
        return None if written is None else state

    # ---- drops ---------------------------------------------------------------------------------
    @staticmethod
    def _drop_item(drop_key: str, object_id: str, state: str, now: str) -> dict[str, Any]:
        return {
            "pk": f"DROP#{drop_key}",
            "sk": "DROP",
            "drop_key": drop_key,
            "object_id": object_id,
            "state": state,
            "created_at": now,
        }

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
        item = self._drop_item(drop_key, object_id, state, self._stamp())
        if reason:
            item["reason"] = reason
        if quarantine_key:
            item["quarantine_key"] = quarantine_key
        try:
            self._ddb.put_item(
                TableName=self._table_name,
                Item=self._ser(item),
                ConditionExpression="attribute_not_exists(pk) OR object_id <> :oid",
                ExpressionAttributeValues=self._ser({":oid": object_id}),
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
        return self._put_if_absent(item)[0]

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
