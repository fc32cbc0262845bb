"""The cost patches of ``gtlocal.shims`` give moto's answers exactly, and their cost stays flat.

Each test runs the same script against moto (in this process) without and with the patches and
compares everything a client sees; the counting tests show what grew with queue depth before.
No timing: counts of the work moto does (attribute-map builds, messages examined, handle checks).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sqs.models import Message, Queue, sqs_backends

from gtlocal import shims

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def moto_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], Any]]:
    """`use(patched)` switches the cost patches on or off; the process's state is restored after."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    installed = shims.cost_patches_installed()

    def use(patched: bool) -> None:
        (shims.apply_cost_patches if patched else shims.remove_cost_patches)()

    yield use
    use(installed)


@contextmanager
def fresh_moto() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def _error(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "no error"


class Observer:
    """Records what a client sees, with random ids and times replaced by stable labels."""

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.ids: dict[str, str] = {}

    def label(self, value: str) -> str:
        return self.ids.setdefault(value, f"#{len(self.ids)}")

    def messages(self, step: str, answer: dict[str, Any]) -> list[dict[str, Any]]:
        messages = answer.get("Messages", [])
        view = []
        for message in messages:
            attributes = dict(message.get("Attributes", {}))
            for stamp in ("SentTimestamp", "ApproximateFirstReceiveTimestamp"):
                if stamp in attributes:
                    attributes[stamp] = "<time>"
            view.append(
                {
                    "id": self.label(message["MessageId"]),
                    "body": message["Body"],
                    "md5": message["MD5OfBody"],
                    "attributes": attributes,
                    "message_attributes": message.get("MessageAttributes"),
                    "md5_attributes": message.get("MD5OfMessageAttributes"),
                }
            )
        self.seen.append((step, view))
        return list(messages)

    def note(self, step: str, value: Any) -> None:
        self.seen.append((step, value))


def _queue_counts(sqs: Any, url: str) -> dict[str, str]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    names.append("ApproximateNumberOfMessagesDelayed")
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"])


def sqs_script(sqs: Any) -> list[Any]:
    """Receives, redrives, deletes (current, old, repeated, invalid handles), FIFO groups, retention."""
    seen = Observer()
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url = sqs.create_queue(QueueName="work", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    for n in range(25):
        extra: dict[str, Any] = {}
        if n % 3 == 0:
            extra["MessageAttributes"] = {"n": {"DataType": "Number", "StringValue": str(n)}}
        if n % 7 == 6:
            extra["DelaySeconds"] = 900  # stays delayed for the whole script
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}", **extra)
    seen.note("counts after send", _queue_counts(sqs, url))

    receive = {"AttributeNames": ["All"], "MessageAttributeNames": ["All"], "MaxNumberOfMessages": 10}
    first = seen.messages("receive 1", sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, **receive))
    second = seen.messages("receive 2", sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, **receive))
    # A third receive of the same messages goes past maxReceiveCount: moto moves them to the DLQ.
    third = seen.messages("receive 3", sqs.receive_message(QueueUrl=url, VisibilityTimeout=30, **receive))
    seen.note("counts after receives", _queue_counts(sqs, url))
    seen.note("dlq counts", _queue_counts(sqs, dlq))
    seen.messages("dlq receive", sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=30, **receive))

    inflight = seen.messages("receive 4", sqs.receive_message(QueueUrl=url, VisibilityTimeout=30, **receive))
    for message in inflight[:3]:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    seen.note(
        "delete again",
        _error(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=inflight[0]["ReceiptHandle"])),
    )
    seen.note(
        "delete moved to dlq",
        _error(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])),
    )
    seen.note(
        "delete old handle of dlq message",
        _error(lambda: sqs.delete_message(QueueUrl=dlq, ReceiptHandle=second[1]["ReceiptHandle"])),
    )
    seen.note(
        "delete invalid", _error(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle"))
    )
    batch = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(third[:5])]
        + [{"Id": "bad", "ReceiptHandle": "nope"}],
    )
    seen.note(
        "delete batch",
        (sorted(s["Id"] for s in batch["Successful"]), [f["Code"] for f in batch.get("Failed", [])]),
    )
    sqs.change_message_visibility(QueueUrl=dlq, ReceiptHandle=second[2]["ReceiptHandle"], VisibilityTimeout=0)
    seen.messages(
        "dlq after visibility change", sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=30, **receive)
    )
    seen.note("counts at the end", _queue_counts(sqs, url))
    seen.messages("drain", sqs.receive_message(QueueUrl=url, VisibilityTimeout=30, **receive))

    fifo = sqs.create_queue(
        QueueName="work.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    for n in range(6):
        sqs.send_message(QueueUrl=fifo, MessageBody=f"f{n}", MessageGroupId=f"g{n % 2}")
    seen.messages("fifo 1", sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=1, AttributeNames=["All"]))
    seen.messages(
        "fifo 2", sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, AttributeNames=["All"])
    )
    seen.messages(
        "fifo 3", sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, AttributeNames=["All"])
    )

    old = sqs.create_queue(QueueName="retained", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for n in range(4):
        sqs.send_message(QueueUrl=old, MessageBody=f"r{n}")
    queue = sqs_backends[ACCOUNT][REGION].queues["retained"]
    queue._messages[1].sent_timestamp -= 120_000  # past the retention period: moto stops there
    seen.messages(
        "retention 1", sqs.receive_message(QueueUrl=old, MaxNumberOfMessages=10, VisibilityTimeout=30)
    )
    seen.messages(
        "retention 2", sqs.receive_message(QueueUrl=old, MaxNumberOfMessages=10, VisibilityTimeout=30)
    )

    to_purge = sqs.create_queue(QueueName="purged")["QueueUrl"]
    sqs.send_message(QueueUrl=to_purge, MessageBody="p")
    purged = seen.messages("before purge", sqs.receive_message(QueueUrl=to_purge, VisibilityTimeout=30))
    sqs.purge_queue(QueueUrl=to_purge)
    handle = purged[0]["ReceiptHandle"]
    seen.note(
        "delete after purge", _error(lambda: sqs.delete_message(QueueUrl=to_purge, ReceiptHandle=handle))
    )
    return seen.seen


def test_sqs_answers_are_the_same_with_and_without_the_cost_patches(
    moto_in_process: Callable[[bool], None],
) -> None:
    moto_in_process(False)
    with fresh_moto() as sqs:
        plain = sqs_script(sqs)
    moto_in_process(True)
    with fresh_moto() as sqs:
        patched = sqs_script(sqs)

    assert patched == plain
    steps = dict(plain)
    # The script reaches what it means to: redrive, errors, FIFO groups, the retention stop.
    assert len(steps["receive 1"]) == 10 and steps["dlq counts"]["ApproximateNumberOfMessages"] == "10"
    assert steps["delete moved to dlq"] == "ReceiptHandleIsInvalid"
    assert steps["delete invalid"] == "ReceiptHandleIsInvalid"
    assert steps["delete after purge"] == "ReceiptHandleIsInvalid"
    assert steps["delete again"] == "no error"
    assert steps["delete batch"] == (["0", "1", "2", "3", "4"], ["ReceiptHandleIsInvalid"])
    assert [m["body"] for m in steps["fifo 2"]] == ["f1", "f3", "f5"]  # group g0 is in flight
    # moto alone stops at the expired message; with the behaviour shims installed in this process
    # (another test's in-process local cloud) the expired message is deleted first, as AWS does.
    retained = ["r0", "r2", "r3"] if shims._applied else ["r0"]
    assert [m["body"] for m in steps["retention 1"]] == retained
    assert steps["counts after send"]["ApproximateNumberOfMessagesDelayed"] == "3"


class Counts:
    """Counts moto's per-queue work: attribute-map builds, messages examined, handle comparisons."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.attribute_maps = self.visibility_checks = self.handle_checks = 0
        attributes: property = Queue.__dict__["attributes"]
        visible: property = Message.__dict__["visible"]
        had_handle = Message.had_receipt_handle

        def count_attributes(queue: Queue) -> Any:
            self.attribute_maps += 1
            return attributes.fget(queue) if attributes.fget else None

        def count_visible(message: Message) -> Any:
            self.visibility_checks += 1
            return visible.fget(message) if visible.fget else None

        def count_handle(message: Message, handle: str) -> bool:
            self.handle_checks += 1
            return had_handle(message, handle)

        monkeypatch.setattr(Queue, "attributes", property(count_attributes))
        monkeypatch.setattr(Message, "visible", property(count_visible))
        monkeypatch.setattr(Message, "had_receipt_handle", count_handle)

    def reset(self) -> None:
        self.attribute_maps = self.visibility_checks = self.handle_checks = 0


def _work_per_send_receive_delete(
    sqs: Any, counts: Counts, depth: int, use: Callable[[bool], None], patched: bool
) -> tuple[int, int, int]:
    """moto's work to send, receive and delete ten messages on a queue holding `depth` others."""
    url = sqs.create_queue(QueueName=f"depth-{depth}")["QueueUrl"]
    use(True)  # queue the others quickly (moto as shipped takes O(N^2) to fill a queue)
    for n in range(depth):
        sqs_backends[ACCOUNT][REGION].send_message(f"depth-{depth}", f"{n}")
    use(patched)
    counts.reset()
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "new"} for i in range(10)])
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
    )
    assert len(messages) == 10
    return counts.attribute_maps, counts.visibility_checks, counts.handle_checks


@pytest.mark.parametrize("patched", [True, False], ids=["patched", "moto-as-shipped"])
def test_work_per_message_does_not_grow_with_queue_depth(
    moto_in_process: Callable[[bool], None], monkeypatch: pytest.MonkeyPatch, patched: bool
) -> None:
    counts = Counts(monkeypatch)
    with fresh_moto() as sqs:
        shallow = _work_per_send_receive_delete(sqs, counts, 20, moto_in_process, patched)
        deep = _work_per_send_receive_delete(sqs, counts, 2000, moto_in_process, patched)
    if patched:
        # One (count-free) attribute map per message sent, the ten returned messages examined by
        # the receive (twice each, as moto's loop does), no queue scan to find a receipt handle:
        # the same at both depths.
        assert shallow == deep == (10, 20, 0)
    else:
        # What the patches remove: moto's work grows with the number of queued messages.
        assert deep[0] == shallow[0] > 10  # attribute maps per message sent and per message received...
        assert deep[1] > 20 * shallow[1]  # ...each examining every queued message
        assert deep[2] > 20 * shallow[2]  # and two scans of the queue per receipt handle


def test_eventbridge_delivers_the_same_event_with_compiled_paths_cached(
    moto_in_process: Callable[[bool], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    import jsonpath_ng.ext

    def deliver() -> list[dict[str, Any]]:
        with mock_aws():
            events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
            url = sqs.create_queue(QueueName="events")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            events.put_rule(Name="r", EventPattern=json.dumps({"source": ["test.perf"]}))
            transformer = {"InputPathsMap": {"state": "$.detail.state"}, "InputTemplate": '{"s": "<state>"}'}
            events.put_targets(
                Rule="r",
                Targets=[
                    {"Id": "plain", "Arn": arn},
                    {"Id": "shaped", "Arn": arn, "InputTransformer": transformer},
                ],
            )
            for state in ("a", "b"):
                detail = json.dumps({"state": state})
                events.put_events(Entries=[{"Source": "test.perf", "DetailType": "t", "Detail": detail}])
            bodies = []
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
                body = json.loads(message["Body"])
                for varying in ("id", "time"):
                    body.pop(varying, None)
                bodies.append(body)
            return sorted(bodies, key=json.dumps)

    moto_in_process(False)
    plain = deliver()
    moto_in_process(True)
    compiled: list[str] = []
    uncached = jsonpath_ng.ext.parse.__wrapped__  # type: ignore[attr-defined]

    def counting(path: str, debug: Any = None) -> Any:
        compiled.append(path)
        return uncached(path, debug)

    jsonpath_ng.ext.parse.cache_clear()  # type: ignore[attr-defined]
    monkeypatch.setattr(jsonpath_ng.ext.parse, "__wrapped__", counting)
    patched = deliver()

    assert patched == plain
    assert {"s": "a"} in plain and len(plain) == 4
    assert len(compiled) == len(set(compiled))  # each path compiled once for all events and targets


def test_dispatch_resolves_each_host_once_and_to_the_same_backend(
    moto_in_process: Callable[[bool], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    import moto.backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    listings: list[int] = []
    list_modules = moto.backends.list_of_moto_modules

    def counting() -> Iterator[str]:
        listings.append(1)  # moto lists its package directory to resolve a host
        return list_modules()

    monkeypatch.setattr(moto.backends, "list_of_moto_modules", counting)
    hosts = [
        None,
        "moto_api",
        "sqs.us-east-1.amazonaws.com",
        "s3.eu-west-1.amazonaws.com",
        "dynamodb",
        "x.example",
    ]
    dispatcher = DomainDispatcherApplication(create_backend_app)

    moto_in_process(False)
    plain = [dispatcher.get_backend_for_host(h) for h in hosts]
    plain_listings = len(listings)
    moto_in_process(True)
    first = [dispatcher.get_backend_for_host(h) for h in hosts]
    listings.clear()
    again = [dispatcher.get_backend_for_host(h) for _ in range(3) for h in hosts]

    assert plain[2:5] == ["sqs", "s3", "dynamodb"] and plain[0] is None and plain[1] == "moto_api"
    assert first == plain and again == plain * 3
    assert plain_listings == 4  # moto as shipped: every named host, every time
    assert listings == []  # patched: a host already seen is not resolved again


def _signed_deliveries(subscribers: int) -> list[tuple[dict[str, Any], bytes]]:
    """Publish once to a topic with `subscribers` SQS subscriptions; each envelope and the PEM
    certificate its SigningCertURL names (as moto serves it)."""
    from moto.sns.models import sns_backends

    with mock_aws():
        sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="signed")["TopicArn"]
        urls = []
        for n in range(subscribers):
            url = sqs.create_queue(QueueName=f"sub-{n}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
            urls.append(url)
        sns.publish(TopicArn=topic, Message="hello")  # no Subject: moto leaves it out of what it signs
        certificates = sns_backends[ACCOUNT][REGION]._message_public_keys
        deliveries = []
        for url in urls:
            (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
            envelope = json.loads(message["Body"])
            deliveries.append((envelope, certificates[envelope["SigningCertURL"].rsplit("/", 1)[1]]))
        return deliveries


def _signature_verifies(envelope: dict[str, Any], pem: bytes) -> bool:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    # https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
    fields = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
    signed = "".join(f"{k}\n{envelope[k]}\n" for k in fields if k in envelope)
    key = x509.load_pem_x509_certificate(pem).public_key()
    try:
        key.verify(  # type: ignore[union-attr,call-arg]
            base64.b64decode(envelope["Signature"]), signed.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return False
    return True


def test_sns_deliveries_are_signed_alike_with_one_key(
    moto_in_process: Callable[[bool], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    generated: list[int] = []
    generate = rsa.generate_private_key

    def counting(*args: Any, **kwargs: Any) -> Any:
        generated.append(1)
        return generate(*args, **kwargs)

    monkeypatch.setattr(rsa, "generate_private_key", counting)
    moto_in_process(False)
    plain = _signed_deliveries(3)
    plain_keys = len(generated)
    generated.clear()
    moto_in_process(True)
    patched = _signed_deliveries(3)

    def shape(deliveries: list[tuple[dict[str, Any], bytes]]) -> list[Any]:
        return [(sorted(e), e["Message"], e["SignatureVersion"]) for e, _ in deliveries]

    assert shape(patched) == shape(plain)
    assert all(_signature_verifies(e, pem) for e, pem in plain + patched)
    assert plain_keys == 3  # moto as shipped: a key per subscription
    assert len(generated) <= 1  # patched: one for the process (none if an earlier test made it)


def test_action_lookup_is_the_same_and_follows_class_changes(moto_in_process: Callable[[bool], None]) -> None:
    import moto.core.responses
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import S3Response
    from moto.sqs.responses import SQSResponse

    classes = [DynamoHandler, S3Response, SQSResponse]
    moto_in_process(False)
    plain = [moto.core.responses.method_names_from_class(c) for c in classes]
    moto_in_process(True)
    patched = [moto.core.responses.method_names_from_class(c) for c in classes for _ in range(2)]

    class Extended(SQSResponse):
        pass

    before = moto.core.responses.method_names_from_class(Extended)
    Extended.gtlocal_test_action = lambda self: ""  # type: ignore[attr-defined]
    after = moto.core.responses.method_names_from_class(Extended)

    assert patched == [names for names in plain for _ in range(2)]
    assert "receive_message" in plain[2]
    assert "gtlocal_test_action" not in before and "gtlocal_test_action" in after


def dynamodb_transactions_script(ddb: Any) -> list[Any]:
    """Transactions that commit, that a condition cancels half way, that name one item twice or a
    missing table; the table is read back after each."""
    ddb.create_table(
        TableName="ledger",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    for n in range(30):
        ddb.put_item(
            TableName="ledger", Item={"pk": {"S": f"OBJ#{n}"}, "sk": {"S": "OBJ"}, "state": {"S": "PENDING"}}
        )
    seen: list[Any] = []

    def table() -> list[Any]:
        items = ddb.scan(TableName="ledger")["Items"]
        return sorted((i["pk"]["S"], i.get("state", {}).get("S"), i.get("job", {}).get("S")) for i in items)

    def update(n: int, condition: str = "#s = :p") -> dict[str, Any]:
        return {
            "Update": {
                "TableName": "ledger",
                "Key": {"pk": {"S": f"OBJ#{n}"}, "sk": {"S": "OBJ"}},
                "UpdateExpression": "SET #s = :sent, job = :job",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": {
                    ":p": {"S": "PENDING"},
                    ":sent": {"S": "SENT"},
                    ":job": {"S": "j1"},
                },
            }
        }

    put_new = {"Put": {"TableName": "ledger", "Item": {"pk": {"S": "OBJ#new"}, "sk": {"S": "OBJ"}}}}
    delete = {"Delete": {"TableName": "ledger", "Key": {"pk": {"S": "OBJ#7"}, "sk": {"S": "OBJ"}}}}
    ddb.transact_write_items(TransactItems=[update(0), update(1)])
    seen.append(("committed", table()))
    cancelled = [update(2), put_new, delete, update(0)]  # OBJ#0 is SENT now: the last condition fails
    seen.append(("cancelled", _error(lambda: ddb.transact_write_items(TransactItems=cancelled))))
    seen.append(("after cancel", table()))
    twice = [update(3), update(3, "attribute_exists(pk)")]
    seen.append(("twice", _error(lambda: ddb.transact_write_items(TransactItems=twice))))
    seen.append(("after twice", table()))
    missing = [update(4), {"Put": {"TableName": "none", "Item": {"pk": {"S": "x"}, "sk": {"S": "y"}}}}]
    seen.append(("missing table", _error(lambda: ddb.transact_write_items(TransactItems=missing))))
    seen.append(("after missing table", table()))
    return seen


def test_dynamodb_transactions_are_the_same_and_copy_no_table(
    moto_in_process: Callable[[bool], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    import copy

    from moto.dynamodb.models.table import Table

    tables_copied: list[str] = []
    deepcopy = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            tables_copied.append(value.name)
        return deepcopy(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    answers, copies = {}, {}
    for patched in (False, True):
        moto_in_process(patched)
        tables_copied.clear()
        with mock_aws():
            answers[patched] = dynamodb_transactions_script(boto3.client("dynamodb", region_name=REGION))
        copies[patched] = len(tables_copied)

    assert answers[True] == answers[False]
    steps = dict(answers[True])
    assert ("OBJ#0", "SENT", "j1") in steps["committed"] and steps[
        "cancelled"
    ] == "TransactionCanceledException"
    assert steps["after cancel"] == steps["committed"] and steps["after twice"] == steps["committed"]
    assert steps["twice"] == "ValidationException" and steps["after missing table"] == steps["committed"]
    assert copies[False] > 0 and copies[True] == 0  # moto copies the table per item; the patch never


def dynamodb_with_and_without(
    use: Callable[[bool], None], script: Callable[[Any], list[Any]], work: list[Any]
) -> tuple[dict[bool, list[Any]], dict[bool, int]]:
    """`script` on a fresh moto without, then with, the cost patches: what it saw and how much of
    the counted `work` (a list the test's counting wrapper appends to) each run did."""
    answers, counts = {}, {}
    for patched in (False, True):
        use(patched)
        work.clear()
        with mock_aws():
            answers[patched] = script(boto3.client("dynamodb", region_name=REGION))
        counts[patched] = len(work)
    return answers, counts


def dynamodb_updates_script(ddb: Any) -> list[Any]:
    """The same UpdateExpression texts many times (alone and in transactions), a text that does not
    parse (twice), one naming a key attribute, one with an unused value; the items read back."""
    ddb.create_table(
        TableName="ledger",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    seen: list[Any] = []

    def key(n: int) -> dict[str, Any]:
        return {"pk": {"S": f"OBJ#{n}"}, "sk": {"S": "OBJ"}}

    def update(n: int, expression: str, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "TableName": "ledger",
            "Key": key(n),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": values,
        }

    sent = "SET #s = :s, job = :j ADD n :one"
    for n in range(6):
        values = {":s": {"S": f"S{n}"}, ":j": {"S": f"j{n % 2}"}, ":one": {"N": "1"}}
        seen.append(ddb.update_item(**update(n, sent, values), ReturnValues="ALL_NEW")["Attributes"])
    items = [
        {"Update": update(n, sent, {":s": {"S": "T"}, ":j": {"S": "j9"}, ":one": {"N": "2"}})}
        for n in range(4)
    ]
    ddb.transact_write_items(TransactItems=items)
    bad = update(0, "SET #s = = :s", {":s": {"S": "x"}})
    seen.append([_error(lambda: ddb.update_item(**bad)) for _ in range(2)])
    on_key = update(0, "SET pk = :s", {":s": {"S": "x"}})
    on_key.pop("ExpressionAttributeNames")
    seen.append(_error(lambda: ddb.update_item(**on_key)))
    unused = update(1, sent, {":s": {"S": "x"}, ":j": {"S": "y"}, ":one": {"N": "1"}, ":extra": {"S": "z"}})
    seen.append(_error(lambda: ddb.update_item(**unused)))
    seen.append(sorted(str(i) for i in ddb.scan(TableName="ledger")["Items"]))
    return seen


def test_dynamodb_update_expressions_are_parsed_once_with_the_same_answers(
    moto_in_process: Callable[[bool], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    parses: list[str] = []
    parse = UpdateExpressionParser.parse

    def counting(self: Any) -> Any:
        parses.append("parse")
        return parse(self)

    monkeypatch.setattr(UpdateExpressionParser, "parse", counting)
    answers, counts = dynamodb_with_and_without(moto_in_process, dynamodb_updates_script, parses)

    assert answers[True] == answers[False]
    assert answers[True][-4] == ["ValidationException", "ValidationException"]
    assert answers[True][-3] == "ValidationException" and answers[True][-2] == "ValidationException"
    # moto: 6 updates + 4 transaction items parsed twice + the failed texts; patched: the distinct texts
    # (the sent expression once, "SET pk = :s" once) plus the text that never parses, each time
    assert counts[False] >= 14 and counts[True] == 4, counts


def dynamodb_item_sizes_script(ddb: Any) -> list[Any]:
    """Items of many attributes put (PutItem, BatchWriteItem, a transaction), one just under and
    one just over the item size limit, then updated; everything read back."""
    ddb.create_table(
        TableName="ledger",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    seen: list[Any] = []

    def item(name: str, attributes: int, filler: int = 10) -> dict[str, Any]:
        values: dict[str, Any] = {f"a{i}": {"S": "x" * filler} for i in range(attributes)}
        values["n"], values["ss"] = {"N": "12.5"}, {"SS": ["a", "bb"]}
        return {"pk": {"S": name}, **values}

    ddb.put_item(TableName="ledger", Item=item("p", 40))
    ddb.batch_write_item(
        RequestItems={"ledger": [{"PutRequest": {"Item": item(f"b{n}", 12)}} for n in range(5)]}
    )
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "ledger", "Item": item("t", 20)}}])
    for name, filler in (("under", 4_000), ("over", 4_100)):  # 100 attributes of ~4 KB
        big = item(name, 100, filler)
        seen.append(_error(lambda big=big: ddb.put_item(TableName="ledger", Item=big)))  # type: ignore[misc]
    seen.append(
        _error(
            lambda: ddb.update_item(
                TableName="ledger",
                Key={"pk": {"S": "under"}},
                UpdateExpression="SET big = :v",
                ExpressionAttributeValues={":v": {"S": "y" * 9_000}},
            )
        )
    )
    seen.append(sorted(str(i) for i in ddb.scan(TableName="ledger")["Items"]))
    return seen


def test_dynamodb_items_are_sized_once_with_the_same_answers(
    moto_in_process: Callable[[bool], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    sized: list[int] = []
    size = DynamoType.size

    def counting(self: Any) -> int:
        sized.append(1)
        return size(self)

    monkeypatch.setattr(DynamoType, "size", counting)
    answers, counts = dynamodb_with_and_without(moto_in_process, dynamodb_item_sizes_script, sized)

    assert answers[True] == answers[False]
    assert answers[True][:3] == ["no error", "ValidationException", "ValidationException"], answers[True][:3]
    assert counts[True] * 5 < counts[False], counts  # n^2/2 size computations per item before


def dynamodb_validation_script(ddb: Any) -> list[Any]:
    """Update expressions that moto's validators accept and refuse, each text sent more than once and
    with different attribute names (the same text passing with some names, refused with others):
    two clauses of one kind, overlapping and duplicated paths, functions (list_append copies its
    first argument, if_not_exists), REMOVE by index, ADD/DELETE on sets, nested paths, a key
    attribute; alone and in transactions; every answer and the items read back."""
    ddb.create_table(
        TableName="ledger",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    ddb.put_item(
        TableName="ledger",
        Item={
            "pk": {"S": "a"},
            "l": {"L": [{"S": "x"}, {"S": "y"}, {"S": "z"}]},
            "m": {"M": {"in": {"N": "1"}}},
            "ss": {"SS": ["p", "q"]},
        },
    )
    seen: list[Any] = []

    def update(expression: str, names: dict[str, str] | None = None, **values: Any) -> None:
        request: dict[str, Any] = {
            "TableName": "ledger",
            "Key": {"pk": {"S": "a"}},
            "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW",
        }
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = {f":{k}": v for k, v in values.items()}
        for _ in range(2):
            try:
                seen.append(ddb.update_item(**request)["Attributes"])
            except ClientError as exc:
                seen.append((exc.response["Error"]["Code"], exc.response["Error"]["Message"]))

    one = {"N": "1"}
    update("SET #a = :v, #b = :w", {"#a": "x", "#b": "y"}, v=one, w=one)
    update("SET #a = :v, #b = :w", {"#a": "x", "#b": "x"}, v=one, w=one)  # the same path twice
    update("SET #a = :v, #b = :w", {"#a": "m", "#b": "m.in"}, v=one, w=one)  # overlapping
    update("SET #a = :v, #b = :w", {"#a": "y", "#b": "x"}, v=one, w=one)
    update("SET x = :v SET y = :v", v=one)  # two SET clauses
    update("ADD n :v REMOVE l[0] ADD n :v", v=one)  # two ADD clauses
    update("SET m.in = m.in + :v, l = list_append(l, :l)", v=one, l={"L": [{"S": "w"}]})
    update("SET c = if_not_exists(c, :v) REMOVE l[2], l[0]", v=one)
    update("ADD ss :s DELETE ss :d", s={"SS": ["r"]}, d={"SS": ["p"]})
    update("SET pk = :v", v={"S": "b"})  # a key attribute
    update("SET m.in.deep = :v", v=one)  # a path through a number
    for names in ({"#a": "t1", "#b": "t2"}, {"#a": "t1", "#b": "t1"}):
        items = [
            {
                "Update": {
                    "TableName": "ledger",
                    "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "SET #a = :v, #b = :v",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {":v": one},
                }
            }
        ]
        seen.append(_error(lambda items=items: ddb.transact_write_items(TransactItems=items)))  # type: ignore[misc]
    seen.append(ddb.get_item(TableName="ledger", Key={"pk": {"S": "a"}})["Item"])
    return seen


def test_dynamodb_update_validation_is_the_same_with_copies_walked_and_tree_checks_once(
    moto_in_process: Callable[[bool], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The validation patches (the tree copied by a walk, class tests remembered, the two checks that
    read only the tree run once per tree and names) give moto's answers and errors exactly, and
    the tree-only checks run less."""
    from moto.dynamodb.parsing.validators import ActionCountValidator, OverlappingPathsValidator

    checks: list[str] = []
    for kind in (ActionCountValidator, OverlappingPathsValidator):
        traverse = kind.traverse

        def counting(self: Any, node: Any, traverse: Any = traverse) -> Any:
            checks.append(type(self).__name__)
            return traverse(self, node)

        monkeypatch.setattr(kind, "traverse", counting)
    answers, counts = dynamodb_with_and_without(moto_in_process, dynamodb_validation_script, checks)

    assert answers[True] == answers[False]
    seen = answers[True]
    errors = [answer[0] for answer in seen if isinstance(answer, tuple)]
    assert errors.count("ValidationException") >= 12, seen  # every refusal refused both times
    assert seen[0] == seen[1] and seen[2][0] == seen[3][0] == "ValidationException"
    assert seen[-3:-1] == ["no error", "ValidationException"], seen[-3:]
    assert 0 < counts[True] < counts[False], counts
