variable "region" {
  description = "AWS region of the project (Ground Truth must be available there)."
  type        = string
  default     = "us-east-1"
}

variable "project_prefix" {
  description = "Project prefix; labeling jobs are named <prefix>-NNNN."
  type        = string
  default     = "pets"
}

variable "workteam_arn" {
  description = "Private workteam that labels the images."
  type        = string
}

variable "lambda_package" {
  description = "Path of a prebuilt Lambda package to deploy; null (default): the module builds it from lambda_src/ during apply into build/ of this repository (python3 with pip on PATH)."
  type        = string
  default     = null
}

variable "notification_emails" {
  description = "Who receives chaining decisions, quarantines and alarms."
  type        = list(string)
  default     = []
}

variable "access_log_bucket" {
  description = "Existing S3 server access log bucket (null: no access logs)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Default tags of every resource."
  type        = map(string)
  default     = { project = "gt-streaming-labeling" }
}

variable "public_instructions" {
  description = "true: the instructions and examples under public/ are readable through a bucket policy. Set false when account-level S3 Block Public Access is on (it refuses that policy); the template then uses Liquid's grant_read_access."
  type        = bool
  default     = true
}
