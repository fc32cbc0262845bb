################################################################################
# Review stages (docs/interfaces.md "Stages"): a stage is a project of its own, fed by the output
# topic of the stage before it - the documented real-time chaining of streaming jobs, "the next
# job's input topic subscribed to the previous job's output topic"
# (https://docs.aws.amazon.com/sagemaker/latest/dg/sms-streaming-chain.html) - here through this
# stage's intake queue, so that the stage's own chain keeps its exactly-once rules.
################################################################################

locals {
  upstream_topic_arn   = var.stage.upstream_output_topic_arn
  upstream_bucket_arn  = var.stage.upstream_input_bucket_arn
  upstream_kms_key_arn = var.stage.upstream_kms_key_arn
  rejected_queue       = var.stage.rejected_queue

  stage_environment = merge(
    local.upstream_topic_arn == null ? {} : { UPSTREAM_OUTPUT_TOPIC_ARN = local.upstream_topic_arn },
    local.rejected_queue == null ? {} : { REJECTED_QUEUE_URL = local.rejected_queue.url },
    var.stage.max_review_rounds == null ? {} : { MAX_REVIEW_ROUNDS = tostring(var.stage.max_review_rounds) },
  )
  # A stage decides on its labels (gtstream.stages.decide): its labels function reads the config.
  is_stage = local.upstream_topic_arn != null || local.rejected_queue != null
}

# Each label the upstream stage's jobs publish reaches this stage's intake queue as the output line
# itself (raw message delivery: no SNS envelope,
# https://docs.aws.amazon.com/sns/latest/dg/sns-large-payload-raw-message-delivery.html); the intake
# queue's policy admits the topic (sqs.tf, AllowUpstreamOutputTopic) and, with a customer managed
# key, the key policy admits sns.amazonaws.com of this account (main.tf, AwsServicesOfThisAccount).
resource "aws_sns_topic_subscription" "upstream" {
  count = local.upstream_topic_arn == null ? 0 : 1

  topic_arn            = local.upstream_topic_arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.this["intake"].arn
  raw_message_delivery = true

  lifecycle {
    precondition {
      # Cross-account delivery would need the upstream account in the queue and key policies.
      condition     = try(split(":", local.upstream_topic_arn)[3] == local.region && split(":", local.upstream_topic_arn)[4] == local.account_id, false)
      error_message = "stage.upstream_output_topic_arn must be a topic of this account and region (stages of one chain are deployed side by side)."
    }
    precondition {
      condition     = local.upstream_topic_arn != aws_sns_topic.this["output"].arn
      error_message = "stage.upstream_output_topic_arn must be the output topic of another stage, not this project's own."
    }
  }
}
