"""A permission error during a job's work fails the job with a reason naming the action and the
resource, as Ground Truth reports it ("ClientError: ... not authorized to perform: ...").

Every AWS call the emulator makes for a job goes through one seam
(``GroundTruthBackend.clients_for(job)``); a bucket policy that denies the call stands in here for
a job role without the permission.
"""

from __future__ import annotations

import json

from emulator_world import World


def deny(world: World, bucket: str, action: str, resource: str) -> None:
    statement = {"Effect": "Deny", "Principal": "*", "Action": action, "Resource": resource}
    world.s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )


def failure(world: World, name: str) -> str:
    described = world.sm.describe_labeling_job(LabelingJobName=name)
    assert described["LabelingJobStatus"] == "Failed"
    reason: str = described["FailureReason"]
    return reason


def test_a_manifest_the_job_may_not_read_fails_the_job(world: World) -> None:
    manifest = world.put_manifest("secret/in.manifest", [{"source-ref": "s3://gt-input/a.jpg"}])
    deny(world, "gt-input", "s3:GetObject", "arn:aws:s3:::gt-input/secret/*")
    world.create("no-read", streaming=False, manifest=manifest)
    world.cloud.control.advance_clock(1)
    assert failure(world, "no-read").startswith("ClientError: ")
    assert (
        "not authorized to perform: s3:GetObject on resource: arn:aws:s3:::gt-input/secret/in.manifest"
        in (failure(world, "no-read"))
    )


def test_categories_the_job_may_not_read_fail_the_job(world: World) -> None:
    deny(world, "gt-config", "s3:GetObject", "arn:aws:s3:::gt-config/categories.json")
    world.create("no-categories")
    world.cloud.control.advance_clock(1)
    assert "s3:GetObject on resource: arn:aws:s3:::gt-config/categories.json" in failure(
        world, "no-categories"
    )


def test_an_output_location_the_job_may_not_write_fails_the_job(world: World) -> None:
    deny(world, "gt-output", "s3:PutObject", "arn:aws:s3:::gt-output/*")
    arn = world.create("no-write")
    world.cloud.control.advance_clock(1)
    reason = failure(world, "no-write")
    assert (
        "not authorized to perform: s3:PutObject on resource: "
        "arn:aws:s3:::gt-output/jobs/no-write/manifests/output/output.manifest"
    ) in reason
    assert world.state_events() == [(arn, "Failed")]


def test_a_denied_write_while_labeling_fails_the_job(world: World) -> None:
    world.start("denied-later")
    world.publish({"source-ref": "s3://gt-input/a.jpg"})
    deny(world, "gt-output", "s3:PutObject", "arn:aws:s3:::gt-output/*")
    world.cloud.control.workforce("denied-later", label=1)
    assert "s3:PutObject" in failure(world, "denied-later")
