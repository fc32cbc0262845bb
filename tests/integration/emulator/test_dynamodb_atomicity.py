"""The local cloud keeps DynamoDB's per-item atomicity, which the chaining lock relies on."""

from __future__ import annotations

import threading

import boto3
from botocore.exceptions import ClientError

from gtlocal.testing import LocalCloud

RACERS = 16
ROUNDS = 5


def _race_for(key: str) -> tuple[list[int], list[str]]:
    """RACERS threads try the same conditional update at once; returns (winners, error codes)."""
    winners: list[int] = []
    losers: list[str] = []
    start = threading.Barrier(RACERS)

    def race(racer: int) -> None:
        client = boto3.client("dynamodb")
        start.wait()
        try:
            client.update_item(
                TableName="race",
                Key={"pk": {"S": key}},
                UpdateExpression="SET owner_id = :me",
                ConditionExpression="attribute_not_exists(owner_id)",
                ExpressionAttributeValues={":me": {"N": str(racer)}},
            )
            winners.append(racer)
        except ClientError as err:
            losers.append(err.response["Error"]["Code"])

    threads = [threading.Thread(target=race, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return winners, losers


def test_concurrent_conditional_writes_have_exactly_one_winner(cloud: LocalCloud) -> None:
    # Given a table and many threads that race to take the same lock item
    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName="race",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for round_no in range(ROUNDS):
        # When every thread updates the item only if nobody owns it yet
        winners, losers = _race_for(f"lock-{round_no}")

        # Then exactly one wins, the rest see ConditionalCheckFailed, and the item names the winner
        assert len(winners) == 1, f"round {round_no}: {len(winners)} winners"
        assert losers == ["ConditionalCheckFailedException"] * (RACERS - 1)
        item = ddb.get_item(TableName="race", Key={"pk": {"S": f"lock-{round_no}"}})["Item"]
        assert item["owner_id"] == {"N": str(winners[0])}
