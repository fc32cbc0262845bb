# `terraform test` here plans this example offline (mock AWS provider): no account, no
# `make package`, no build/ directory. The plan shows the Lambda package build that apply runs
# (module.labeling.terraform_data.package). tests/integration/terraform runs it in a copy of the
# repository without build/.

mock_provider "aws" {
  source = "../../mocks/aws" # terraform/mocks/aws/aws.tfmock.hcl
}

variables {
  workteam_arn = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/my-team"
}

run "plan_builds_the_lambda_package" {
  command = plan
  assert {
    condition     = module.labeling.lambda_package.build && endswith(module.labeling.lambda_package.file, "/build/lambda-python3.11-x86_64.zip")
    error_message = "the plan must build the package (no prebuilt zip) into build/ of the repository"
  }
}
