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

locals {
  # Without a customer managed key: CloudWatch alarms (notifications) and Ground Truth (output)
  # cannot publish to a topic under the AWS managed key alias/aws/sns, whose policy cannot be
  # changed - https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
  # and "do not use the (Default) alias/aws/sns option" for the output topic,
  # https://docs.aws.amazon.com/sagemaker/latest/dg/sms-create-sns-input-topic.html - so those two
  # stay unencrypted at rest; only the Lambdas publish to the input topic, which keeps alias/aws/sns.
  topic_keys = {
    input         = local.use_kms ? local.kms_key_arn : "alias/aws/sns"
    output        = local.use_kms ? local.kms_key_arn : null
    notifications = local.use_kms ? local.kms_key_arn : null
  }
  # The topic actions a topic policy names, all denied over plain HTTP (the SNS guide's example
  # denies Publish only: https://docs.aws.amazon.com/sns/latest/dg/sns-security-best-practices.html).
  topic_policy_actions = [
    "SNS:AddPermission", "SNS:DeleteTopic", "SNS:GetTopicAttributes", "SNS:ListSubscriptionsByTopic", "SNS:Publish",
    "SNS:RemovePermission", "SNS:SetTopicAttributes", "SNS:Subscribe",
  ]
}

resource "aws_sns_topic" "this" {
  for_each = local.topics

  name              = each.value
  kms_master_key_id = local.topic_keys[each.key]
  tags              = merge(local.tags, { "gt-streaming:topic" = each.key })
}

data "aws_iam_policy_document" "topic" {
  for_each = local.topics

  statement {
    sid     = "OwnerAccountOnly"
    actions = ["SNS:Publish", "SNS:Subscribe", "SNS:GetTopicAttributes", "SNS:ListSubscriptionsByTopic"]
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
    actions = local.topic_policy_actions
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
