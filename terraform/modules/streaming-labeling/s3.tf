################################################################################
# Buckets: drop (raw images), input (pre-processed images + chained manifests), output (labels)
################################################################################

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice of the operator; the module keeps versioning on so it can be added.
  #checkov:skip=CKV_AWS_18:Access logging is enabled by var.access_log_bucket (a log bucket cannot log to itself and is operator-owned).
  #checkov:skip=CKV2_AWS_6:Public access block: checkov's graph does not link the for_each companion resources (*.this[each.key]) to each bucket instance; they exist for every bucket and are asserted by tests/module.tftest.hcl and tests/integration/terraform.
  #checkov:skip=CKV2_AWS_61:Lifecycle configuration: checkov's graph does not link the for_each companion resources (*.this[each.key]) to each bucket instance; they exist for every bucket and are asserted by tests/module.tftest.hcl and tests/integration/terraform.
  #checkov:skip=CKV_AWS_21:Versioning: checkov's graph does not link the for_each companion resources (*.this[each.key]) to each bucket instance; they exist for every bucket and are asserted by tests/module.tftest.hcl and tests/integration/terraform.
  #checkov:skip=CKV_AWS_145:KMS encryption (with kms.create_key or kms.key_arn): checkov's graph does not link the for_each companion resources (*.this[each.key]) to each bucket instance; they exist for every bucket and are asserted by tests/module.tftest.hcl and tests/integration/terraform.
  #checkov:skip=CKV2_AWS_62:Only the drop bucket needs event notifications (to the intake queue); input and output are written by the pipeline itself.
  for_each = local.bucket_names

  bucket        = each.value
  force_destroy = var.force_destroy
  tags          = merge(local.tags, { "gt-streaming:bucket" = each.key })
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = local.use_kms
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    id     = "noncurrent-and-incomplete"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.object_lifecycle.noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = var.object_lifecycle.abort_incomplete_multipart_upload_days
    }
  }
}

resource "aws_s3_bucket_logging" "this" {
  for_each = var.access_log_bucket == null ? {} : aws_s3_bucket.this

  bucket        = each.value.id
  target_bucket = var.access_log_bucket
  target_prefix = "${local.lower}/${each.value.id}/"
}

# Ground Truth workers' browsers fetch the images directly from the input bucket.
resource "aws_s3_bucket_cors_configuration" "input" {
  bucket = aws_s3_bucket.this["input"].id

  cors_rule {
    allowed_methods = ["GET"]
    allowed_origins = ["*"]
    allowed_headers = []
    expose_headers  = ["Access-Control-Allow-Origin"]
    max_age_seconds = 3000
  }
}

data "aws_iam_policy_document" "bucket" {
  for_each = aws_s3_bucket.this

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"] # a deny of every S3 action over plain HTTP; no allow uses a wildcard
    resources = [
      each.value.arn,
      "${each.value.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  policy = data.aws_iam_policy_document.bucket[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_notification" "drop" {
  bucket = aws_s3_bucket.this["drop"].id

  queue {
    id        = "drop-to-intake"
    queue_arn = aws_sqs_queue.this["intake"].arn
    events    = ["s3:ObjectCreated:*"]
  }
}
