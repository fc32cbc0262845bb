################################################################################
# The Lambda package: built from lambda_src/ during apply, or a prebuilt zip (var.lambda_package)
################################################################################

locals {
  # The checkout this module sits in holds the sources - also when the module is consumed as
  # git::<repository>//terraform/modules/streaming-labeling?ref=vX.Y.Z (Terraform clones the whole
  # repository into .terraform/modules/).
  source_root   = "${path.module}/../../.."
  build_package = var.lambda_package == null

  # Every file that decides the package's content, hashed at plan time (the zip itself is not
  # needed until apply). Caches are left out, as scripts/package_lambda.py leaves them out of the zip.
  package_input_files = sort(concat(
    [
      for f in fileset("${local.source_root}/lambda_src", "**") : "lambda_src/${f}"
      if !can(regex("(^|/)(__pycache__|\\.mypy_cache|\\.pytest_cache|\\.ruff_cache)/|\\.py[co]$", f))
    ],
    ["scripts/package_lambda.py"],
  ))
  package_build = {
    inputs_sha256 = sha256(join("\n", [for f in local.package_input_files : "${f} ${filesha256("${local.source_root}/${f}")}"]))
    runtime       = var.lambda.runtime
    architecture  = var.lambda.architecture
    file          = "${coalesce(var.package_build.output_dir, "${path.root}/build")}/lambda-${var.lambda.runtime}-${var.lambda.architecture}.zip"
  }

  # The functions read the file name from the build resource, so they wait for the build.
  package_file = local.build_package ? terraform_data.package[0].triggers_replace.file : var.lambda_package
  # source_code_hash is a value the provider only keeps in the state and compares with the
  # configuration: a change uploads the zip again (UpdateFunctionCode); reads do not overwrite it
  # with Lambda's CodeSha256 (hashicorp/terraform-provider-aws PR #37669, May 2024, older than this
  # module's minimum 5.60; provider docs of aws_lambda_function: "a synthetic argument tracked only
  # by the AWS provider"). So a built package is identified by the hash of its inputs, known at plan
  # time: a second plan shows no changes, and a changed source, runtime or architecture updates
  # the functions (tests/integration/terraform/test_local_apply.py checks both). A prebuilt zip is hashed itself.
  package_hash = local.build_package ? base64sha256(jsonencode(local.package_build)) : filebase64sha256(var.lambda_package)
}

# Builds lambda-<runtime>-<architecture>.zip with scripts/package_lambda.py when an input changes
# (terraform_data is built into Terraform: no extra provider). The script itself skips the work
# when the zip on disk already matches the inputs, and keeps downloaded wheels in <output_dir>/wheels.
resource "terraform_data" "package" {
  count = local.build_package ? 1 : 0

  triggers_replace = local.package_build

  provisioner "local-exec" {
    working_dir = local.source_root
    # No shell: the interpreter list is the command line; `command` is appended as its last argument.
    interpreter = [
      var.package_build.python, "scripts/package_lambda.py",
      "--runtime", var.lambda.runtime, "--architecture", var.lambda.architecture,
      "--wheel-cache", abspath("${dirname(local.package_build.file)}/wheels"),
    ]
    command = "--output=${abspath(local.package_build.file)}"
  }
}

output "lambda_package" {
  description = "The package the functions deploy: file (its path), build (true: this module builds it during apply; false: var.lambda_package), runtime and architecture."
  value = {
    file         = local.package_file
    build        = local.build_package
    runtime      = var.lambda.runtime
    architecture = var.lambda.architecture
  }
}
