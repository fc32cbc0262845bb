# The whole project against the local cloud (moto server + Ground Truth emulator, `make emulator`).
# Same modules as examples/complete; only the provider points at var.endpoint.

provider "aws" {
  region     = var.region
  access_key = "test"
  secret_key = "test"

  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    cloudwatch          = var.endpoint
    cloudwatchevents    = var.endpoint
    cloudwatchlogs      = var.endpoint
    codebuild           = var.endpoint
    codecommit          = var.endpoint
    codepipeline        = var.endpoint
    codestarconnections = var.endpoint
    dynamodb            = var.endpoint
    iam                 = var.endpoint
    kms                 = var.endpoint
    lambda              = var.endpoint
    s3                  = var.endpoint
    sagemaker           = var.endpoint
    sns                 = var.endpoint
    sqs                 = var.endpoint
    sts                 = var.endpoint
  }
}

module "instructions" {
  source = "../../modules/instructions-pipeline"

  project_prefix      = var.project_prefix
  public_instructions = true
  force_destroy       = true
  kms_key_arn         = module.labeling.kms_key_arn
  labeling_defaults = {
    workteam_arn = var.workteam_arn
  }
  tags = var.tags
}

module "labeling" {
  source = "../../modules/streaming-labeling"

  project_prefix = var.project_prefix
  lambda_package = var.lambda_package
  package_build  = { output_dir = "${path.root}/../../../build" } # beside `make package`'s zips and wheel cache
  force_destroy  = true
  instructions = {
    bucket_name           = module.instructions.instructions_bucket_name
    artifacts_bucket_name = module.instructions.artifacts_bucket_name
  }
  kms = {
    create_key              = true
    deletion_window_in_days = 7
  }
  tags = var.tags
}

# An optional review stage (var.review_stage): a second project "<prefix>-verify" fed in real time
# by the first one's output topic (docs/interfaces.md "Stages"); the objects its review rejects
# go back to the first stage's intake queue to be labeled again. Its project config (the
# verification task) sits in the same instruction bucket under its own key; give it an
# instructions-pipeline module of its own to publish it from a repository.
module "verify" {
  source = "../../modules/streaming-labeling"
  count  = var.review_stage ? 1 : 0

  project_prefix = "${var.project_prefix}-verify"
  lambda_package = var.lambda_package
  package_build  = { output_dir = "${path.root}/../../../build" } # the same zip: the two builds wait for each other
  force_destroy  = true
  instructions = {
    bucket_name           = module.instructions.instructions_bucket_name
    artifacts_bucket_name = module.instructions.artifacts_bucket_name
    project_config_key    = "config/${var.project_prefix}-verify/project.json"
  }
  kms = {
    create_key              = true
    deletion_window_in_days = 7
  }
  stage = {
    upstream_output_topic_arn = module.labeling.output_topic_arn
    upstream_input_bucket_arn = module.labeling.bucket_arns["input"]
    upstream_kms_key_arn      = module.labeling.kms_key_arn
    rejected_queue = {
      url         = module.labeling.intake_queue_url
      arn         = module.labeling.intake_queue_arn
      kms_key_arn = module.labeling.kms_key_arn
    }
  }
  tags = var.tags
}
