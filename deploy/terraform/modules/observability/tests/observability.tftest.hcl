mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name        = "hello-birthday-staging"
  environment = "staging"
  runbook_url = "https://github.com/example/hello-birthday/blob/main/docs/operations/runbook.md"
  watched = {
    alb_arn_suffix          = "app/hello-birthday-staging/0123456789abcdef"
    target_group_arn_suffix = "targetgroup/hello-birthday-staging/0123456789abcdef"
    cluster_name            = "hello-birthday-staging"
    service_name            = "hello-birthday-staging"
    table_name              = "hello-birthday-staging"
  }
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
    condition     = length(local.alarms) == 8 && length(distinct([for a in local.alarms : a.alarm_description])) == 8
    error_message = "Eight distinct alarms."
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

run "prometheus_workspace" {
  command = plan

  assert {
    condition     = aws_prometheus_workspace.this.kms_key_arn == aws_kms_key.observability.arn
    error_message = "The workspace is encrypted with the environment's key."
  }
  assert {
    condition     = aws_prometheus_workspace.this.logging_configuration[0].log_group_arn == "${aws_cloudwatch_log_group.prometheus.arn}:*" && aws_cloudwatch_log_group.prometheus.kms_key_id == aws_kms_key.observability.arn
    error_message = "The workspace logs rule and Alertmanager errors to an encrypted log group."
  }
  assert {
    condition = (
      aws_prometheus_rule_group_namespace.slo.data == templatefile("../../../monitoring/rules/staging.rules.yml", { runbook_url = var.runbook_url })
      && strcontains(aws_prometheus_rule_group_namespace.slo.data, "${var.runbook_url}#availability-slo-burn")
      && !strcontains(aws_prometheus_rule_group_namespace.slo.data, "$${runbook_url}")
    )
    error_message = "The workspace evaluates the generated staging rules, with runbook links to this repository."
  }
  assert {
    condition = (
      strcontains(aws_prometheus_alert_manager_definition.this[0].definition, "topic_arn: ${aws_sns_topic.alerts.arn}")
      && strcontains(aws_prometheus_alert_manager_definition.this[0].definition, "topic_arn: ${aws_sns_topic.tickets.arn}")
      && strcontains(aws_prometheus_alert_manager_definition.this[0].definition, "region: eu-west-1")
    )
    error_message = "The Alertmanager routes pages and tickets to their SNS topics in the stack's region."
  }
  assert {
    condition = alltrue([for t in aws_sns_topic_policy.this : anytrue([for st in jsondecode(t.policy).Statement :
      try(st.Principal.Service, "") == "aps.amazonaws.com" && try(st.Condition.ArnEquals["aws:SourceArn"], "") == aws_prometheus_workspace.this.arn
    ])])
    error_message = "Only this workspace's Alertmanager may publish to the topics as aps."
  }
  assert {
    condition     = aws_sns_topic.tickets.kms_master_key_id == aws_kms_key.observability.arn
    error_message = "The ticket topic is encrypted like the alerts topic."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.amp_ingestion.namespace == "AWS/Usage"
      && aws_cloudwatch_metric_alarm.amp_ingestion.dimensions.Resource == "IngestionRate"
      && aws_cloudwatch_metric_alarm.amp_ingestion.dimensions.ResourceId == aws_prometheus_workspace.this.id
      && aws_cloudwatch_metric_alarm.amp_ingestion.treat_missing_data == "breaching"
    )
    error_message = "An alarm outside the workspace fires when the workspace stops receiving samples, missing data included."
  }
  assert {
    condition     = output.prometheus_remote_write_url == "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-00000000-0000-0000-0000-000000000000/api/v1/remote_write"
    error_message = "The collectors write to the workspace's remote-write endpoint."
  }
}

run "rejects_unknown_environment" {
  command = plan
  variables {
    environment = "dev"
  }
  expect_failures = [var.environment]
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
