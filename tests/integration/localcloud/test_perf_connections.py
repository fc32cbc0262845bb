"""botocore's pooled connections stay open against the local cloud, end to end.

Counts, not times: TCP connections opened against requests sent, for plain clients, for the local
runner's SQS client and for the clients the handlers create once per container (gtstream.aws).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from PIL import Image

from gtlocal.deploy import deploy_project, publish_project_config
from gtlocal.runner import run_until_idle
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


@contextmanager
def counting_requests() -> Iterator[list[int]]:
    """HTTP requests this process sends meanwhile (every botocore client: urllib3's pools)."""
    import urllib3.connectionpool

    sent = [0]
    original = urllib3.connectionpool.HTTPConnectionPool._make_request

    def make_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        sent[0] += 1
        return original(self, *args, **kwargs)

    urllib3.connectionpool.HTTPConnectionPool._make_request = make_request  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        urllib3.connectionpool.HTTPConnectionPool._make_request = original  # type: ignore[method-assign]


def test_the_runner_and_the_handlers_reuse_their_connections(cloud: LocalCloud) -> None:
    deployment = deploy_project("ka", region=cloud.region)
    publish_project_config(deployment)
    s3 = boto3.client("s3")
    for n in range(3):
        image = io.BytesIO()
        Image.new("RGB", (32, 24), (n * 60, 10, 10)).save(image, format="JPEG")
        s3.put_object(Bucket=deployment["buckets"]["drop"], Key=f"in/{n}.jpg", Body=image.getvalue())

    # The runner acts as each function's role and the handlers as theirs: one set of clients per
    # role (and service), each opened once however many requests it sends.
    with counting_connections() as connections, counting_requests() as requests:
        stats = run_until_idle(deployment)

    assert stats.succeeded.get("intake", 0) >= 3 and not stats.failed.get("intake")  # + S3 test event
    print(f"\n{requests[0]} requests on {connections.opened} connections")
    assert connections.opened > 0 and requests[0] >= 3 * connections.opened
