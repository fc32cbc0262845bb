output "deployment" {
  description = "The deployment document (docs/interfaces.md section 2) read by the behaviour tests and the CLI."
  value       = module.labeling.deployment
}

output "repository_clone_url_http" {
  description = "Clone URL of the instructions repository."
  value       = module.instructions.repository_clone_url_http
}

output "operator_policy_arn" {
  description = "Managed policy for the people who run gtctl on this project (attach it to their role)."
  value       = module.labeling.operator_policy_arn
}

output "review_deployment" {
  description = "The review stage's deployment document (null without review_stage)."
  value       = var.review_stage ? module.verify[0].deployment : null
}
