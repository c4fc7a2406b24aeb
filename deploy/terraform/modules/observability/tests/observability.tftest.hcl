mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name                    = "hello-birthday-staging"
  runbook_url             = "https://github.com/example/hello-birthday/blob/main/docs/operations/runbook.md"
  alb_arn_suffix          = "app/hello-birthday-staging/0123456789abcdef"
  target_group_arn_suffix = "targetgroup/hello-birthday-staging/0123456789abcdef"
  cluster_name            = "hello-birthday-staging"
  service_name            = "hello-birthday-staging"
  table_name              = "hello-birthday-staging"
}

run "alarms" {
  command = plan

  assert {
    condition = alltrue([for a in local.alarms :
      can(regex("Runbook: https://github.com/example/hello-birthday/blob/main/docs/operations/runbook.md#[a-z0-9-]+$", a.alarm_description))
      && contains(a.alarm_actions, aws_sns_topic.alerts.arn) && contains(a.ok_actions, aws_sns_topic.alerts.arn)
    ])
    error_message = "Every alarm notifies the topic and links its runbook section."
  }
  assert {
    condition     = length(local.alarms) == 7 && length(distinct([for a in local.alarms : a.alarm_description])) == 7
    error_message = "Seven distinct alarms."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.expression["alb-5xx-rate"].evaluation_periods == 3
      && aws_cloudwatch_metric_alarm.expression["alb-5xx-rate"].datapoints_to_alarm == 2
      && aws_cloudwatch_metric_alarm.expression["running-tasks-below-desired"].datapoints_to_alarm == 5
      && aws_cloudwatch_metric_alarm.expression["running-tasks-below-desired"].treat_missing_data == "breaching"
      && length(aws_cloudwatch_metric_alarm.expression["dynamodb-system-errors"].metric_query) == 3
    )
    error_message = "Expression alarms default to 2 of 3 minutes; missing tasks need 5 of 5 and treat no data as breaching."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.target_p99_latency.extended_statistic == "p99"
    error_message = "The latency alarm is on p99."
  }
  assert {
    condition     = aws_sns_topic.alerts.kms_master_key_id == aws_kms_key.observability.arn
    error_message = "The alert topic is encrypted with a key CloudWatch may use."
  }
  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) == 7
    error_message = "The dashboard shows the alarms and six metric panels."
  }
}

run "rejects_runbook_elsewhere" {
  command = plan
  variables {
    runbook_url = "https://wiki.example.com/runbook"
  }
  expect_failures = [var.runbook_url]
}

run "rejects_bad_email" {
  command = plan
  variables {
    alarm_emails = ["not-an-address"]
  }
  expect_failures = [var.alarm_emails]
}
