output "instructions_bucket_name" {
  description = "Bucket of the published instructions (public/<version>/...) and project config (config/...)."
  value       = aws_s3_bucket.this["instructions"].id
}

output "instructions_bucket_arn" {
  description = "ARN of the instruction bucket."
  value       = aws_s3_bucket.this["instructions"].arn
}

output "artifacts_bucket_name" {
  description = "Bucket of the pipeline artifacts and the publisher script."
  value       = aws_s3_bucket.this["artifacts"].id
}

output "artifacts_bucket_arn" {
  description = "ARN of the artifact bucket."
  value       = aws_s3_bucket.this["artifacts"].arn
}

output "project_config_uri" {
  description = "S3 URI of the published project config (docs/interfaces.md section 5)."
  value       = "s3://${aws_s3_bucket.this["instructions"].id}/config/project.json"
}

output "public_base_url" {
  description = "HTTPS base URL of the public prefix (null when the instructions are private)."
  value       = var.public_instructions ? "https://${aws_s3_bucket.this["instructions"].id}.s3.${local.region}.amazonaws.com/public/" : null
}

output "repository_clone_url_http" {
  description = "HTTPS clone URL of the CodeCommit repository (null with a CodeStar connection source)."
  value       = local.use_codecommit ? aws_codecommit_repository.this[0].clone_url_http : null
}

output "repository_arn" {
  description = "ARN of the CodeCommit repository (null with a CodeStar connection source)."
  value       = local.repository_arn
}

output "connection_arn" {
  description = "ARN of the CodeStar connection (null with CodeCommit). A connection created here must be approved once in the console."
  value       = local.connection_arn
}

output "codebuild_project_name" {
  description = "Name of the CodeBuild project that publishes the instructions."
  value       = aws_codebuild_project.this.name
}

output "codepipeline_name" {
  description = "Name of the instructions pipeline."
  value       = aws_codepipeline.this.name
}

output "codepipeline_arn" {
  description = "ARN of the instructions pipeline."
  value       = aws_codepipeline.this.arn
}
