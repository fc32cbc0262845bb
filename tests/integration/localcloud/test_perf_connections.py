"""botocore's pooled connections stay open against the local cloud, end to end.

Counts, not times: TCP connections opened against requests sent, for plain clients, for the local
runner's SQS client and for the clients the handlers create once per container (gtstream.aws).
"""

from __future__ import annotations

import io
from typing import Any

import boto3
from PIL import Image

from gtlocal.deploy import deploy_project, publish_project_config
from gtlocal.runner import aws_client, lambda_environment, run_until_idle
from gtlocal.testing import LocalCloud, counting_connections, requests_sent


def test_a_client_sends_every_request_on_one_connection(cloud: LocalCloud) -> None:
    sqs, s3 = boto3.client("sqs"), boto3.client("s3")
    with counting_connections() as connections:
        url = sqs.create_queue(QueueName="keepalive")["QueueUrl"]
        s3.create_bucket(Bucket="keepalive-bucket")
        for n in range(15):
            sqs.send_message(QueueUrl=url, MessageBody=str(n))
            s3.put_object(Bucket="keepalive-bucket", Key=f"k{n}", Body=b"x" * 1000)
            assert s3.get_object(Bucket="keepalive-bucket", Key=f"k{n}")["Body"].read() == b"x" * 1000
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]

    assert len(received) == 10
    assert (requests_sent(sqs), requests_sent(s3)) == (17, 31)
    assert connections.opened == 2  # one per client


def _handler_clients(deployment: dict[str, Any]) -> list[Any]:
    from gtstream.handlers.common import deps

    with lambda_environment(deployment):
        runtime = deps()  # the handlers' Deps of this environment, built once, as in a container
    return list(runtime.store._clients._clients.values())  # Clients keeps one per service


def test_the_runner_and_the_handlers_reuse_their_connections(cloud: LocalCloud) -> None:
    deployment = deploy_project("ka", region=cloud.region)
    publish_project_config(deployment)
    s3 = boto3.client("s3")
    for n in range(3):
        image = io.BytesIO()
        Image.new("RGB", (32, 24), (n * 60, 10, 10)).save(image, format="JPEG")
        s3.put_object(Bucket=deployment["buckets"]["drop"], Key=f"in/{n}.jpg", Body=image.getvalue())
    runner = aws_client("sqs", cloud.region)
    sent_before = requests_sent(runner) + sum(requests_sent(c) for c in _handler_clients(deployment))

    with counting_connections() as connections:
        stats = run_until_idle(deployment)

    assert stats.succeeded.get("intake", 0) >= 3 and not stats.failed.get("intake")  # + S3 test event
    clients = [runner, *_handler_clients(deployment)]  # the same clients, plus any created on first use
    sent = sum(requests_sent(c) for c in clients) - sent_before
    # At most one new connection per client (its first use, or after the server closed an idle
    # one), however many requests each sent.
    assert sent > 3 * len(clients)
    assert connections.opened <= len(clients)
