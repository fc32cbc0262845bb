variable "project_prefix" {
  description = "Project prefix P (the same as the streaming-labeling module's): 1-56 letters, digits and inner hyphens."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,55}$", var.project_prefix))
    error_message = "project_prefix must match ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,55}$ (1-56 characters, letters/digits, hyphens only inside), e.g. \"pets-classification\"."
  }
}

variable "tags" {
  description = "Tags applied to every resource that supports them."
  type        = map(string)
  default     = {}
}

variable "source_repository" {
  description = "Where the instructions live. provider = \"CodeCommit\" (default) creates a CodeCommit repository; \"GitHub\", \"GitHubEnterpriseServer\", \"GitLab\", \"GitLabSelfManaged\" or \"Bitbucket\" uses a CodeStar connection (connection_arn, or one created here that you then approve in the console) to full_repository_id \"owner/name\"."
  type = object({
    provider           = optional(string, "CodeCommit")
    repository_name    = optional(string)
    full_repository_id = optional(string)
    branch             = optional(string, "main")
    connection_arn     = optional(string)
  })
  default = {}

  validation {
    condition     = contains(["CodeCommit", "GitHub", "GitHubEnterpriseServer", "GitLab", "GitLabSelfManaged", "Bitbucket"], var.source_repository.provider)
    error_message = "source_repository.provider must be one of CodeCommit, GitHub, GitHubEnterpriseServer, GitLab, GitLabSelfManaged, Bitbucket."
  }

  validation {
    condition     = var.source_repository.provider == "CodeCommit" || can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$", var.source_repository.full_repository_id))
    error_message = "A CodeStar connection source needs source_repository.full_repository_id like \"my-org/labeling-instructions\"."
  }

  validation {
    condition     = var.source_repository.repository_name == null || can(regex("^[A-Za-z0-9_.-]{1,100}$", var.source_repository.repository_name))
    error_message = "source_repository.repository_name must be 1-100 letters, digits, '.', '_' or '-'."
  }

  validation {
    condition     = var.source_repository.connection_arn == null || can(regex("^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:connection/[a-f0-9-]+$", var.source_repository.connection_arn))
    error_message = "source_repository.connection_arn must be a CodeStar connection ARN like arn:aws:codestar-connections:us-east-1:123456789012:connection/<uuid>."
  }

  validation {
    condition     = can(regex("^[^ ~^:?*\\[\\\\]+$", var.source_repository.branch))
    error_message = "source_repository.branch must be a git branch name, e.g. \"main\"."
  }
}

variable "public_instructions" {
  description = "true: instructions.html and example images under public/ are readable by anyone through a bucket policy on that prefix (Block Public Access stays on for ACLs; ACLs are disabled). false: the bucket is fully private and the template must use Liquid's grant_read_access for examples."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the artifact bucket, CodeBuild and its logs (null: AWS managed keys). The instruction bucket always uses SSE-S3 because anonymous readers of public/ cannot use a KMS key."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN like arn:aws:kms:us-east-1:123456789012:key/<id>."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete non-empty buckets."
  type        = bool
  default     = false
}

variable "publisher_script" {
  description = "Path of scripts/publish_instructions.py; uploaded to the artifact bucket and run by CodeBuild (null: the copy in this repository)."
  type        = string
  default     = null
}

variable "codebuild" {
  description = "CodeBuild settings of the publishing build."
  type = object({
    image              = optional(string, "aws/codebuild/standard:7.0")
    compute_type       = optional(string, "BUILD_GENERAL1_SMALL")
    timeout_minutes    = optional(number, 15)
    log_retention_days = optional(number, 365)
  })
  default = {}

  validation {
    condition     = contains(["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"], var.codebuild.compute_type)
    error_message = "codebuild.compute_type must be BUILD_GENERAL1_SMALL, BUILD_GENERAL1_MEDIUM or BUILD_GENERAL1_LARGE."
  }

  validation {
    condition     = var.codebuild.timeout_minutes >= 5 && var.codebuild.timeout_minutes <= 480
    error_message = "codebuild.timeout_minutes must be between 5 and 480."
  }

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.codebuild.log_retention_days)
    error_message = "codebuild.log_retention_days must be a CloudWatch Logs retention value (e.g. 30, 90, 365)."
  }
}

variable "labeling_defaults" {
  description = "Account-specific task settings handed to the publisher as defaults for what the repository's project.json leaves out (so the workteam ARN need not live in git)."
  type = object({
    workteam_arn                       = optional(string)
    workers_per_object                 = optional(number, 1)
    task_time_limit_seconds            = optional(number, 300)
    task_availability_lifetime_seconds = optional(number, 864000)
    max_concurrent_task_count          = optional(number, 1000)
  })
  default = {}

  validation {
    condition     = var.labeling_defaults.workteam_arn == null || can(regex("^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:workteam/[a-z-]+/[a-zA-Z0-9-]+$", var.labeling_defaults.workteam_arn))
    error_message = "labeling_defaults.workteam_arn must be a workteam ARN like arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/my-team."
  }

  validation {
    condition     = contains([1, 2, 3, 4, 5, 6, 7, 8, 9], var.labeling_defaults.workers_per_object)
    error_message = "labeling_defaults.workers_per_object must be a whole number from 1 to 9."
  }

  validation {
    condition     = var.labeling_defaults.task_time_limit_seconds >= 30 && var.labeling_defaults.task_time_limit_seconds <= 28800
    error_message = "labeling_defaults.task_time_limit_seconds must be between 30 and 28800 (8 hours)."
  }

  validation {
    condition     = var.labeling_defaults.task_availability_lifetime_seconds >= 60 && var.labeling_defaults.task_availability_lifetime_seconds <= 2592000
    error_message = "labeling_defaults.task_availability_lifetime_seconds must be between 60 and 2592000 (30 days; the public workforce allows at most 43200)."
  }

  validation {
    condition     = var.labeling_defaults.max_concurrent_task_count >= 1 && var.labeling_defaults.max_concurrent_task_count <= 5000
    error_message = "labeling_defaults.max_concurrent_task_count must be between 1 and 5000."
  }
}
