"""CodeCommit, CodePipeline and CodeBuild that run: ``git push`` -> pipeline execution -> build.

moto stores CodeCommit repositories, CodePipeline pipelines and CodeBuild projects as metadata only:
no git data, executions that are ``Succeeded`` the moment they start, builds that ``BatchGetBuilds``
calls ``SUCCEEDED`` without running anything. This package makes them do what AWS documents, in the
local cloud's process, as the roles AWS would use:

- ``gitserver``: each CodeCommit repository over git's smart HTTP at the clone URL the local cloud
  reports (``http://<host>:<port>/v1/repos/<name>``), served by dulwich's WSGI server; a push emits
  ``CodeCommit Repository State Change`` to EventBridge, as CodeCommit does.
- ``models``: pipeline executions (status, stages, actions, revisions, trigger) kept on moto's own
  execution objects, and the API moto lacks (``GetPipelineState``; real ``GetPipelineExecution`` /
  ``ListPipelineExecutions``); builds run by the local cloud in ``BatchGetBuilds``.
- ``worker``: the "service" thread. An EventBridge rule targeting a pipeline assumes the target's
  role as ``events.amazonaws.com`` and calls ``StartPipelineExecution`` with it; each execution runs
  as the pipeline's role (``codepipeline.amazonaws.com``): the CodeCommit source action zips the
  branch head into the artifact store, the CodeBuild action calls ``StartBuild`` and waits.
- ``codebuild``: a build as the project's service role (``codebuild.amazonaws.com``): source
  artifact download, the repository's ``buildspec.yml`` phases in a temporary work directory with
  the project's environment, its log in CloudWatch Logs, the project's timeout.
- ``buildenv``: the build image's tools (Python, pip, boto3, the AWS CLI) from a cached environment
  under the local cloud's data directory.
- ``control``: ``/_localcloud/pipelines/`` (wait until idle, list runs).

``install(endpoint, data_dir)`` (called by ``gtlocal.server.LocalCloud``) installs the moto patches
once per process and points the service at the local cloud's own endpoint.
"""

from __future__ import annotations

from gtlocal.pipelines.service import PipelineService, current, deliver, install

__all__ = ["PipelineService", "current", "deliver", "install"]
