mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name   = "hello-birthday-production-entry-point-alerts"
  emails = ["oncall@example.com"]
}

run "topic" {
  command = plan

  assert {
    condition     = aws_sns_topic.this.kms_master_key_id == aws_kms_key.this.arn && aws_kms_key.this.enable_key_rotation
    error_message = "The topic is encrypted with its own rotating key."
  }
  assert {
    condition     = contains([for s in jsondecode(aws_kms_key.this.policy).Statement : s.Principal if s.Sid == "CloudWatchAlarmsPublishToTopic"], { Service = "cloudwatch.amazonaws.com" })
    error_message = "CloudWatch alarms may use the key to publish."
  }
  assert {
    condition     = keys(aws_sns_topic_subscription.email) == ["oncall@example.com"]
    error_message = "Every address is subscribed."
  }
}

run "rejects_no_address" {
  command = plan
  variables {
    emails = []
  }
  expect_failures = [var.emails]
}

run "rejects_a_bad_name" {
  command = plan
  variables {
    name = "alerts topic"
  }
  expect_failures = [var.name]
}
