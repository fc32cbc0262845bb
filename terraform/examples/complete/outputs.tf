output "deployment" {
  description = "The deployment document (docs/interfaces.md section 2) for gtctl and the runner."
  value       = module.labeling.deployment
}

output "drop_bucket_name" {
  description = "Drop images here."
  value       = module.labeling.drop_bucket_name
}

output "repository_clone_url_http" {
  description = "Push the instructions repository (instructions/ of this repo) here."
  value       = module.instructions.repository_clone_url_http
}

output "notification_topic_arn" {
  description = "Subscribe more endpoints (chat, pager) to this topic."
  value       = module.labeling.notification_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the project."
  value       = module.labeling.dashboard_name
}

output "operator_policy_arn" {
  description = "Managed policy for the people who run gtctl on this project (attach it to their role)."
  value       = module.labeling.operator_policy_arn
}
