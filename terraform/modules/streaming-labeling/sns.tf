################################################################################
# SNS: streaming input/output topics of the labeling jobs, and human notifications
################################################################################

locals {
  topics = {
    input         = "${local.name}-gt-input"
    output        = "${local.name}-gt-output"
    notifications = "${local.name}-notifications"
  }
}

resource "aws_sns_topic" "this" {
  for_each = local.topics

  name              = each.value
  kms_master_key_id = local.use_kms ? local.kms_key_arn : "alias/aws/sns"
  tags              = merge(local.tags, { "gt-streaming:topic" = each.key })
}

data "aws_iam_policy_document" "topic" {
  for_each = local.topics

  statement {
    sid     = "OwnerAccountOnly"
    actions = ["SNS:Publish", "SNS:Subscribe", "SNS:Receive", "SNS:GetTopicAttributes", "SNS:ListSubscriptionsByTopic"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    resources = [aws_sns_topic.this[each.key].arn]
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceOwner"
      values   = [local.account_id]
    }
  }

  dynamic "statement" {
    for_each = each.key == "notifications" ? [1] : []
    content {
      sid       = "CloudWatchAlarmsOfThisAccount"
      actions   = ["SNS:Publish"]
      resources = [aws_sns_topic.this[each.key].arn]
      principals {
        type        = "Service"
        identifiers = ["cloudwatch.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
      condition {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.name}-*"]
      }
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["SNS:Publish"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_sns_topic.this[each.key].arn]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  for_each = local.topics

  arn    = aws_sns_topic.this[each.key].arn
  policy = data.aws_iam_policy_document.topic[each.key].json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.notification_emails)

  topic_arn = aws_sns_topic.this["notifications"].arn
  protocol  = "email"
  endpoint  = each.value
}
