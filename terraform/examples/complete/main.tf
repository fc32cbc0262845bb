# A production project in a real AWS account: customer managed KMS key, CodeCommit instructions
# repository, public instructions prefix, e-mail notifications and alarms. The apply builds the
# Lambda package from lambda_src/ (python3 with pip on PATH); no `make package` needed.
#
#   terraform init && terraform apply -var 'workteam_arn=arn:aws:sagemaker:...:workteam/private-crowd/my-team'
#   git push the instructions/ directory to output.repository_clone_url_http

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

module "instructions" {
  source = "../../modules/instructions-pipeline"

  project_prefix      = var.project_prefix
  public_instructions = var.public_instructions
  kms_key_arn         = module.labeling.kms_key_arn
  labeling_defaults = {
    workteam_arn              = var.workteam_arn
    workers_per_object        = 3
    task_time_limit_seconds   = 600
    max_concurrent_task_count = 1000
  }
}

module "labeling" {
  source = "../../modules/streaming-labeling"

  project_prefix = var.project_prefix
  lambda_package = var.lambda_package
  package_build  = { output_dir = "${path.root}/../../../build" } # beside `make package`'s zips and wheel cache
  instructions = {
    bucket_name           = module.instructions.instructions_bucket_name
    artifacts_bucket_name = module.instructions.artifacts_bucket_name
  }
  kms                 = { create_key = true }
  notification_emails = var.notification_emails
  access_log_bucket   = var.access_log_bucket
  labeling = {
    max_chain_depth     = 50
    max_object_failures = 3
  }
}
