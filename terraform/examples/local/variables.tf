variable "endpoint" {
  description = "URL of the local cloud (gtlocal serve / make emulator)."
  type        = string
  default     = "http://127.0.0.1:4566"

  validation {
    condition     = can(regex("^https?://[^/]+$", var.endpoint))
    error_message = "endpoint must be a base URL without a path, e.g. \"http://127.0.0.1:4566\"."
  }
}

variable "region" {
  description = "Region the local cloud pretends to be."
  type        = string
  default     = "us-east-1"
}

variable "project_prefix" {
  description = "Project prefix (job names are <prefix>-NNNN)."
  type        = string
  default     = "demo"
}

variable "lambda_package" {
  description = "Path of a prebuilt Lambda package to deploy; null (default): the module builds it from lambda_src/ during apply into build/ of this repository (python3 with pip on PATH)."
  type        = string
  default     = null
}

variable "workteam_arn" {
  description = "Workteam of the emulated private workforce."
  type        = string
  default     = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/local-team"
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = { environment = "local" }
}

variable "review_stage" {
  description = "Also deploy a review stage \"<project_prefix>-verify\" fed by this project's output topic, whose rejected objects come back to this project's intake queue (docs/interfaces.md \"Stages\")."
  type        = bool
  default     = false
}
