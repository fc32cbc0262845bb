# Review stages (var.stage, stage.tf): the wiring exists exactly when asked for, and every
# validation rule names what to write. The applied wiring is proven under the strict local cloud
# by tests/integration/terraform (examples/local with review_stage = true).

mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  project_prefix = "Pets-Demo-verify"
  instructions = {
    bucket_name           = "pets-demo-123456789012-instructions"
    artifacts_bucket_name = "pets-demo-123456789012-artifacts"
    project_config_key    = "config/pets-demo-verify/project.json"
  }
}

run "first_stage_has_no_stage_wiring" {
  command = plan

  assert {
    condition     = length(aws_sns_topic_subscription.upstream) == 0
    error_message = "without var.stage there is no upstream subscription"
  }
  assert {
    condition     = output.deployment.stage.upstream_output_topic_arn == null && output.deployment.stage.rejected_queue_url == null
    error_message = "the deployment document's stage is all null for a first stage"
  }
  assert {
    condition     = length(setintersection(keys(output.deployment.lambda_environment), ["UPSTREAM_OUTPUT_TOPIC_ARN", "REJECTED_QUEUE_URL"])) == 0
    error_message = "a first stage's Lambdas get no stage variables"
  }
  assert {
    condition     = [for st in data.aws_iam_policy_document.queue["intake"].statement : st.sid] == ["AllowProjectSender", "DenyInsecureTransport"]
    error_message = "a first stage's intake queue takes only its drop bucket's notifications"
  }
  assert {
    condition = length(setintersection(
      toset(flatten([for d in concat(values(data.aws_iam_policy_document.lambda), [data.aws_iam_policy_document.groundtruth]) : [for st in d.statement : st.sid]])),
      ["UpstreamImages", "UpstreamKey", "RejectedQueue", "RejectedQueueKey"],
    )) == 0
    error_message = "a first stage's roles get no stage grants"
  }
}

run "review_stage_is_wired_to_its_upstream" {
  command = plan
  variables {
    stage = {
      upstream_output_topic_arn = "arn:aws:sns:us-east-1:123456789012:Pets-Demo-gt-output"
      upstream_input_bucket_arn = "arn:aws:s3:::pets-demo-123456789012-input"
      upstream_kms_key_arn      = "arn:aws:kms:us-east-1:123456789012:key/99999999-2222-3333-4444-555555555555"
      rejected_queue = {
        url         = "https://sqs.us-east-1.amazonaws.com/123456789012/Pets-Demo-intake"
        arn         = "arn:aws:sqs:us-east-1:123456789012:Pets-Demo-intake"
        kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/99999999-2222-3333-4444-555555555555"
      }
    }
  }

  assert {
    condition = (
      aws_sns_topic_subscription.upstream[0].topic_arn == "arn:aws:sns:us-east-1:123456789012:Pets-Demo-gt-output" &&
      aws_sns_topic_subscription.upstream[0].protocol == "sqs" && aws_sns_topic_subscription.upstream[0].raw_message_delivery
    )
    error_message = "the intake queue subscribes to the upstream output topic with raw message delivery"
  }
  assert {
    condition = jsonencode([for st in data.aws_iam_policy_document.queue["intake"].statement : [
      st.sid, tolist(st.actions), flatten([for p in st.principals : tolist(p.identifiers)]),
      { for c in st.condition : c.variable => tolist(c.values) },
      ] if st.sid == "AllowUpstreamOutputTopic"]) == jsonencode([[
      "AllowUpstreamOutputTopic", ["sqs:SendMessage"], ["sns.amazonaws.com"],
      { "aws:SourceArn" = ["arn:aws:sns:us-east-1:123456789012:Pets-Demo-gt-output"], "aws:SourceAccount" = ["123456789012"] },
    ]])
    error_message = "the intake queue admits SNS for the upstream output topic only"
  }
  assert {
    condition     = alltrue([for k in ["job_events", "worker_events", "labels"] : !contains([for st in data.aws_iam_policy_document.queue[k].statement : st.sid], "AllowUpstreamOutputTopic")])
    error_message = "only the intake queue takes the upstream labels"
  }
  assert {
    condition = {
      for st in data.aws_iam_policy_document.groundtruth.statement : st.sid => [st.actions, st.resources] if startswith(st.sid, "Upstream")
      } == {
      UpstreamImages = [toset(["s3:GetObject"]), toset(["arn:aws:s3:::pets-demo-123456789012-input/images/*"])]
      UpstreamKey    = [toset(["kms:Decrypt"]), toset(["arn:aws:kms:us-east-1:123456789012:key/99999999-2222-3333-4444-555555555555"])]
    }
    error_message = "the Ground Truth role reads exactly the upstream images/ (and decrypts them with the upstream key)"
  }
  assert {
    condition = alltrue([for k in ["intake", "job_events", "labels", "reconcile"] : {
      for st in data.aws_iam_policy_document.lambda[k].statement : st.sid => [st.actions, st.resources] if startswith(st.sid, "Rejected")
      } == {
      RejectedQueue    = [toset(["sqs:SendMessage"]), toset(["arn:aws:sqs:us-east-1:123456789012:Pets-Demo-intake"])]
      RejectedQueueKey = [toset(["kms:Decrypt", "kms:GenerateDataKey"]), toset(["arn:aws:kms:us-east-1:123456789012:key/99999999-2222-3333-4444-555555555555"])]
    }])
    error_message = "the deciding functions (labels live, intake/job_events/reconcile at a job end) send to the rejected queue (with its key)"
  }
  assert {
    condition     = length(setintersection(toset([for st in data.aws_iam_policy_document.lambda["worker_events"].statement : st.sid]), ["RejectedQueue", "RejectedQueueKey"])) == 0
    error_message = "worker_events decides nothing and sends no rejected object"
  }
  assert {
    condition     = length(setintersection(toset([for st in data.aws_iam_policy_document.lambda["labels"].statement : st.sid]), ["LedgerReadObject", "ProjectConfig", "InstructionsList"])) == 3
    error_message = "a review stage's labels function reads the config and the object it sends back"
  }
  assert {
    condition = (
      output.deployment.lambda_environment.UPSTREAM_OUTPUT_TOPIC_ARN == "arn:aws:sns:us-east-1:123456789012:Pets-Demo-gt-output" &&
      output.deployment.lambda_environment.REJECTED_QUEUE_URL == "https://sqs.us-east-1.amazonaws.com/123456789012/Pets-Demo-intake" &&
      alltrue([for f in aws_lambda_function.this : f.environment[0].variables.REJECTED_QUEUE_URL == "https://sqs.us-east-1.amazonaws.com/123456789012/Pets-Demo-intake"])
    )
    error_message = "every function gets UPSTREAM_OUTPUT_TOPIC_ARN and REJECTED_QUEUE_URL"
  }
  assert {
    condition = output.deployment.stage == {
      upstream_output_topic_arn = "arn:aws:sns:us-east-1:123456789012:Pets-Demo-gt-output"
      rejected_queue_url        = "https://sqs.us-east-1.amazonaws.com/123456789012/Pets-Demo-intake"
    }
    error_message = "the deployment document's stage names the upstream topic and the rejected queue"
  }
}

run "review_stage_without_keys_grants_no_kms" {
  command = plan
  variables {
    stage = {
      upstream_output_topic_arn = "arn:aws:sns:us-east-1:123456789012:Pets-Demo-gt-output"
      upstream_input_bucket_arn = "arn:aws:s3:::pets-demo-123456789012-input"
      rejected_queue = {
        url = "https://sqs.us-east-1.amazonaws.com/123456789012/Pets-Demo-intake"
        arn = "arn:aws:sqs:us-east-1:123456789012:Pets-Demo-intake"
      }
    }
  }
  assert {
    condition = length(setintersection(
      toset(flatten([for d in [data.aws_iam_policy_document.lambda["labels"], data.aws_iam_policy_document.groundtruth] : [for st in d.statement : st.sid]])),
      ["UpstreamKey", "RejectedQueueKey"],
    )) == 0
    error_message = "no upstream key statements without upstream keys"
  }
}

run "rejects_upstream_topic_that_is_no_topic_arn" {
  command = plan
  variables {
    stage = { upstream_output_topic_arn = "Pets-Demo-gt-output" }
  }
  expect_failures = [var.stage]
}

run "rejects_upstream_bucket_with_a_key" {
  command = plan
  variables {
    stage = { upstream_input_bucket_arn = "arn:aws:s3:::pets-demo-123456789012-input/images/*" }
  }
  expect_failures = [var.stage]
}

run "rejects_upstream_key_without_bucket" {
  command = plan
  variables {
    stage = { upstream_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/99999999-2222-3333-4444-555555555555" }
  }
  expect_failures = [var.stage]
}

run "rejects_rejected_queue_url_of_another_queue" {
  command = plan
  variables {
    stage = {
      rejected_queue = {
        url = "https://sqs.us-east-1.amazonaws.com/123456789012/Pets-Demo-labels"
        arn = "arn:aws:sqs:us-east-1:123456789012:Pets-Demo-intake"
      }
    }
  }
  expect_failures = [var.stage]
}

run "rejects_rejected_queue_key_alias" {
  command = plan
  variables {
    stage = {
      rejected_queue = {
        url         = "https://sqs.us-east-1.amazonaws.com/123456789012/Pets-Demo-intake"
        arn         = "arn:aws:sqs:us-east-1:123456789012:Pets-Demo-intake"
        kms_key_arn = "alias/aws/sqs"
      }
    }
  }
  expect_failures = [var.stage]
}

run "rejects_upstream_topic_of_another_account" {
  command = plan
  variables {
    stage = { upstream_output_topic_arn = "arn:aws:sns:us-east-1:210987654321:Pets-Demo-gt-output" }
  }
  expect_failures = [aws_sns_topic_subscription.upstream]
}

run "max_review_rounds_reaches_every_function" {
  command = plan
  variables {
    stage = { max_review_rounds = 5 }
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.environment[0].variables.MAX_REVIEW_ROUNDS == "5"])
    error_message = "stage.max_review_rounds is every function's MAX_REVIEW_ROUNDS"
  }
  assert {
    condition     = length(setintersection(toset([for st in data.aws_iam_policy_document.lambda["labels"].statement : st.sid]), ["LedgerReadObject", "ProjectConfig", "InstructionsList", "RejectedQueue"])) == 0
    error_message = "a stage that only receives rejected objects decides nothing: no stage grant"
  }
}

run "rejects_max_review_rounds_out_of_range" {
  command = plan
  variables {
    stage = { max_review_rounds = 0 }
  }
  expect_failures = [var.stage]
}
