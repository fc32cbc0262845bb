"""``git push`` to the instructions repository on the local cloud runs the pipeline as on AWS.

CodeCommit (over git's smart HTTP) -> ``CodeCommit Repository State Change`` -> the stack's push
rule -> ``StartPipelineExecution`` as the rule target's role -> Source (the branch head zipped into
the artifact bucket as the pipeline's role) -> Build (the repository's buildspec.yml as the
CodeBuild project's role: the publisher validates, renders and publishes) -> the Lambdas create the
next chained job from the published config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest

from .gitpush import REGION, STARTER, PipelineProject


def given_published_and_a_job_running(p: PipelineProject) -> Path:
    """The starter instructions pushed as terraform/examples/complete/README.md says, and published;
    job 1 created from them, running, 1 of 3 labeled. The README's clone."""
    work, sha = p.push_as_the_readme_says()
    # ...which pushed the starter repository, not this project
    pushed = p.git("ls-tree", "-r", "--name-only", "HEAD", cwd=work).stdout.split()
    starter = sorted(str(f.relative_to(STARTER)) for f in STARTER.rglob("*") if f.is_file())
    assert sorted(pushed) == starter and "buildspec.yml" in pushed
    p.wait()
    (first,) = p.executions()
    assert first["status"] == "Succeeded", first
    assert first["sourceRevisions"][0]["revisionId"] == sha
    project = p.project
    project.drop_images(0, 3)
    project.run()
    project.start_job_running(1)
    assert project.cloud.control.workforce(project.job_name(1), label=1)["labeled"] == 1
    return work


def edit_json(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, indent=2) + "\n")


def s3_text(uri: str) -> str:
    bucket, _, key = uri[5:].partition("/")
    return str(
        boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    )


# Two pipeline executions, each a CodeBuild run in a fresh virtual environment; the first build of
# a fresh clone also makes the build image (pip from PyPI): more than the suite's 300 s default on
# a loaded machine. The limit only stops a hung test; it is not a performance threshold.
@pytest.mark.timeout(1200)
def test_a_bad_push_is_refused_and_a_good_push_reaches_the_next_chained_job(
    pipeline_project: PipelineProject,
) -> None:
    """One story, so that the stacks and the first publish serve both halves (suite time)."""
    p, project = pipeline_project, pipeline_project.project
    assert p.clone_url.startswith(p.cloud.endpoint + "/v1/repos/")  # the URL the stack reports
    work = given_published_and_a_job_running(p)
    assert project.cloud.control.job(project.job_name(1))["categories"] == ["cat", "dog", "bird"]
    before, config_before = p.instruction_objects(), p.published_config()

    # When a config with one category (image classification needs 2 to 10) is pushed
    edit_json(work / "project.json", categories=["cat"])
    p.commit_and_push(work, "Only cats")
    p.wait()

    # Then the execution failed in its Build stage, and the build log names the field
    bad, first = p.executions()
    assert (bad["status"], first["status"]) == ("Failed", "Succeeded")
    pipelines = boto3.client("codepipeline", region_name=REGION)
    source, build_stage = pipelines.get_pipeline_state(name=p.pipeline["PipelineName"])["stageStates"]
    assert source["latestExecution"]["status"] == "Succeeded"
    assert build_stage["latestExecution"]["status"] == "Failed"
    error = build_stage["actionStates"][0]["latestExecution"]["errorDetails"]
    assert error["message"] == "Build terminated with state: FAILED"
    build = p.build_of(bad["pipelineExecutionId"])
    assert build["buildStatus"] == "FAILED"
    (failed_phase,) = [ph for ph in build["phases"] if ph.get("phaseStatus") == "FAILED"]
    assert failed_phase["phaseType"] == "BUILD"
    assert failed_phase["contexts"][0]["statusCode"] == "COMMAND_EXECUTION_ERROR"
    log = p.build_log(build)
    assert any(line.startswith("error: categories: image-classification takes 2 to 10") for line in log), log
    # ...nothing was published: the bucket and the config are as before
    assert p.instruction_objects() == before
    assert p.published_config() == config_before
    # ...and the running job keeps going: a new image is sent to it and labeled
    assert project.cloud.control.job(project.job_name(1))["status"] == "InProgress"
    project.drop_images(10, 1, folder="after the bad push")
    project.run()
    assert len(project.cloud.control.job(project.job_name(1))["objects"]) == 4
    assert project.cloud.control.workforce(project.job_name(1), label=1)["labeled"] == 1
    assert project.jobs() == [project.job_name(1)]

    # When the categories and the instructions are fixed and pushed
    # (appended: labels made so far keep their meaning; the publisher refuses a moved category)
    edit_json(work / "project.json", categories=["cat", "dog", "bird", "fox"])
    with (work / "instructions.md").open("a") as text:
        text.write("\nFoxes have a bushy tail and a pointed snout: choose **fox**.\n")
    sha = p.commit_and_push(work, "Add the fox category")
    p.wait()

    # Then a third execution, started by the push rule, succeeded on that commit
    good = p.executions()[0]
    account = project.deployment["account_id"]
    rule = f"arn:aws:events:{REGION}:{account}:rule/{project.prefix}-instructions-push"
    assert good["status"] == "Succeeded" and len(p.executions()) == 3
    assert good["trigger"] == {"triggerType": "CloudWatchEvent", "triggerDetail": rule}
    assert good["sourceRevisions"][0]["revisionId"] == sha
    execution = pipelines.get_pipeline_execution(
        pipelineName=p.pipeline["PipelineName"], pipelineExecutionId=good["pipelineExecutionId"]
    )["pipelineExecution"]
    assert execution["status"] == "Succeeded"
    assert execution["artifactRevisions"][0]["revisionId"] == sha
    assert execution["artifactRevisions"][0]["revisionSummary"] == "Add the fox category"
    state = pipelines.get_pipeline_state(name=p.pipeline["PipelineName"])
    assert [(s["stageName"], s["latestExecution"]["status"]) for s in state["stageStates"]] == [
        ("Source", "Succeeded"),
        ("Build", "Succeeded"),
    ]
    # ...whose build ran the repository's buildspec as CodeBuild does, logged where CodeBuild logs
    build = p.build_of(good["pipelineExecutionId"])
    assert build["buildStatus"] == "SUCCEEDED" and build["resolvedSourceVersion"] == sha
    assert build["initiator"] == f"codepipeline/{p.pipeline['PipelineName']}"
    phases = (
        "SUBMITTED QUEUED PROVISIONING DOWNLOAD_SOURCE INSTALL PRE_BUILD BUILD POST_BUILD UPLOAD_ARTIFACTS"
    )
    assert [ph["phaseType"] for ph in build["phases"]][:9] == phases.split()
    assert build["logs"]["groupName"] == p.pipeline["BuildLogGroupName"]
    log_text = "\n".join(p.build_log(build))
    assert "Running command python3 -m pip install" in log_text
    bucket = p.buckets["InstructionBucketName"]
    assert f"-{sha[:12]} (public) to s3://{bucket}" in log_text
    published = p.published_config()
    assert published["categories"] == ["cat", "dog", "bird", "fox"]
    assert published["version"].endswith(sha[:12])
    assert published["workteam_arn"].endswith("workteam/private-crowd/labelers")  # GT_DEFAULT_WORKTEAM_ARN
    # ...and the running job keeps the config it was created with (on_publish: next-job)
    assert project.cloud.control.job(project.job_name(1))["categories"] == ["cat", "dog", "bird"]

    # When job 1 ends, the chained job is created from the pushed config
    boto3.client("sagemaker", region_name=REGION).stop_labeling_job(LabelingJobName=project.job_name(1))
    project.advance(5)
    project.run()
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    described = boto3.client("sagemaker", region_name=REGION).describe_labeling_job(
        LabelingJobName=project.job_name(2)
    )
    assert described["HumanTaskConfig"]["UiConfig"]["UiTemplateS3Uri"] == published["template_uri"]
    template = s3_text(published["template_uri"])
    assert "Foxes have a bushy tail and a pointed snout" in template
    assert "&quot;fox&quot;" in template  # the categories the template offers
    categories = json.loads(s3_text(described["LabelCategoryConfigS3Uri"]))
    assert [c["label"] for c in categories["labels"]] == ["cat", "dog", "bird", "fox"]
    # ...with everything job 1 did not label, and nothing lost
    project.start_job_running(2)
    assert project.cloud.control.job(project.job_name(2))["categories"] == ["cat", "dog", "bird", "fox"]
    assert project.label_all(2) == 2
    assert project.lost() == []


def test_git_access_is_authorized_like_codecommit(repository: PipelineProject, tmp_path: Path) -> None:
    """No credentials: 401 and git asks its helper; a role that may pull but not push is refused."""
    p = repository
    import subprocess

    anonymous = subprocess.run(
        ["git", "clone", p.clone_url, str(tmp_path / "anon")],
        env={**p.git.env, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_ASKPASS": "/bin/false"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert anonymous.returncode != 0

    iam = boto3.client("iam", region_name=REGION)
    account_root = {"AWS": "arn:aws:iam::123456789012:root"}
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": account_root, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    repo_arn = p.repository["RepositoryArn"]
    pull_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "codecommit:GitPull", "Resource": repo_arn}],
    }
    iam.put_role_policy(RoleName="reader", PolicyName="pull", PolicyDocument=json.dumps(pull_only))
    credentials = boto3.client("sts", region_name=REGION).assume_role(RoleArn=role, RoleSessionName="dev")[
        "Credentials"
    ]
    p.git.env.update(
        AWS_ACCESS_KEY_ID=credentials["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
        AWS_SESSION_TOKEN=credentials["SessionToken"],
    )
    work = p.clone(tmp_path / "reader")  # GitPull: allowed
    (work / "README.md").write_text("x\n")
    p.git("add", "--all", cwd=work)
    p.git("commit", "--quiet", "-m", "x", cwd=work)
    pushed = p.git("push", "origin", "HEAD:main", cwd=work, check=False)
    assert pushed.returncode != 0
    assert "not authorized to perform: codecommit:GitPush on resource: " + repo_arn in pushed.stderr
