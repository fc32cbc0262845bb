# Plan-time logic and every validation rule of the instructions pipeline.

mock_provider "aws" {
  source = "../../mocks/aws" # terraform/mocks/aws/aws.tfmock.hcl
}

variables {
  project_prefix = "Pets-Demo"
}

run "codecommit_by_default" {
  command = plan
  assert {
    condition     = length(aws_codecommit_repository.this) == 1 && length(aws_codestarconnections_connection.this) == 0
    error_message = "CodeCommit is the default source"
  }
  assert {
    condition     = aws_codepipeline.this.stage[0].action[0].provider == "CodeCommit"
    error_message = "the pipeline's source action must be CodeCommit"
  }
  assert {
    condition     = !aws_s3_bucket_public_access_block.this["instructions"].block_public_policy && aws_s3_bucket_public_access_block.this["instructions"].block_public_acls
    error_message = "public instructions: only the bucket policy may be public, ACLs stay blocked"
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.this["artifacts"].block_public_policy && aws_s3_bucket_public_access_block.this["artifacts"].restrict_public_buckets
    error_message = "the artifact bucket is never public"
  }
  assert {
    condition     = length(aws_iam_role.events) == 1
    error_message = "the push trigger needs the events role"
  }
}

run "private_instructions_block_everything" {
  command = plan
  variables {
    public_instructions = false
  }
  assert {
    condition = alltrue([for b in aws_s3_bucket_public_access_block.this :
    b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets])
    error_message = "private mode blocks all public access"
  }
  assert {
    condition     = output.public_base_url == null
    error_message = "no public URL in private mode"
  }
}

run "github_via_codestar_connection" {
  command = plan
  variables {
    source_repository = { provider = "GitHub", full_repository_id = "my-org/labeling-instructions" }
  }
  assert {
    condition     = length(aws_codecommit_repository.this) == 0 && length(aws_codestarconnections_connection.this) == 1
    error_message = "a GitHub source creates a connection and no CodeCommit repository"
  }
  assert {
    condition     = aws_codepipeline.this.stage[0].action[0].provider == "CodeStarSourceConnection" && length(aws_iam_role.events) == 0
    error_message = "the pipeline uses the connection and needs no push trigger role"
  }
}

run "rejects_prefix" {
  command = plan
  variables {
    project_prefix = "bad prefix"
  }
  expect_failures = [var.project_prefix]
}

run "rejects_source_provider" {
  command = plan
  variables {
    source_repository = { provider = "SVN" }
  }
  expect_failures = [var.source_repository]
}

run "rejects_codestar_needs_repository_id" {
  command = plan
  variables {
    source_repository = { provider = "GitLab" }
  }
  expect_failures = [var.source_repository]
}

run "rejects_repository_name" {
  command = plan
  variables {
    source_repository = { repository_name = "bad name!" }
  }
  expect_failures = [var.source_repository]
}

run "rejects_connection_arn" {
  command = plan
  variables {
    source_repository = { provider = "GitHub", full_repository_id = "a/b", connection_arn = "arn:aws:s3:::nope" }
  }
  expect_failures = [var.source_repository]
}

run "rejects_branch" {
  command = plan
  variables {
    source_repository = { branch = "bad branch" }
  }
  expect_failures = [var.source_repository]
}

run "rejects_kms_key_arn" {
  command = plan
  variables {
    kms_key_arn = "key-123"
  }
  expect_failures = [var.kms_key_arn]
}

run "rejects_compute_type" {
  command = plan
  variables {
    codebuild = { compute_type = "HUGE" }
  }
  expect_failures = [var.codebuild]
}

run "rejects_build_timeout" {
  command = plan
  variables {
    codebuild = { timeout_minutes = 1 }
  }
  expect_failures = [var.codebuild]
}

run "rejects_log_retention" {
  command = plan
  variables {
    codebuild = { log_retention_days = 2 }
  }
  expect_failures = [var.codebuild]
}

run "rejects_workteam_arn" {
  command = plan
  variables {
    labeling_defaults = { workteam_arn = "arn:aws:sagemaker:us-east-1:123456789012:notebook/x" }
  }
  expect_failures = [var.labeling_defaults]
}

run "rejects_workers_per_object" {
  command = plan
  variables {
    labeling_defaults = { workers_per_object = 10 }
  }
  expect_failures = [var.labeling_defaults]
}

run "rejects_task_time_limit" {
  command = plan
  variables {
    labeling_defaults = { task_time_limit_seconds = 29 }
  }
  expect_failures = [var.labeling_defaults]
}

run "rejects_availability_lifetime" {
  command = plan
  variables {
    labeling_defaults = { task_availability_lifetime_seconds = 2592001 }
  }
  expect_failures = [var.labeling_defaults]
}

run "rejects_max_concurrent_tasks" {
  command = plan
  variables {
    labeling_defaults = { max_concurrent_task_count = 5001 }
  }
  expect_failures = [var.labeling_defaults]
}
