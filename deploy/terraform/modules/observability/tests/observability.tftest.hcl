mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name         = "hello-birthday-staging"
  environment  = "staging"
  runbook_url  = "https://github.com/example/hello-birthday/blob/main/docs/operations/runbook.md"
  alarm_emails = ["oncall@example.com", "sre@example.com"]
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
    condition     = length(local.alarms) == 9 && length(distinct([for a in local.alarms : a.alarm_description])) == 9
    error_message = "Nine distinct alarms."
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

# Every topic an alarm or an Alertmanager route publishes to has a subscription, read from the rendered
# configuration: the alarms' actions and the receivers the routes of the deployed Alertmanager definition (the file in
# deploy/monitoring, as Terraform fills it) end at. The two topics get distinct ARNs so that one cannot stand in for
# the other.
run "every_alert_reaches_a_subscriber" {
  command = plan

  override_resource {
    override_during = plan
    target          = aws_sns_topic.tickets
    values          = { arn = "arn:aws:sns:eu-west-1:123456789012:tickets" }
  }

  assert {
    condition = alltrue([for arn in flatten([for a in local.alarms : [a.alarm_actions, a.ok_actions]]) :
      contains([for s in concat(values(aws_sns_topic_subscription.email), values(aws_sns_topic_subscription.ticket_email)) : s.topic_arn], arn)
    ])
    error_message = "An alarm notifies a topic nobody subscribes to."
  }
  assert {
    condition = alltrue(flatten([
      for receiver in yamldecode(yamldecode(aws_prometheus_alert_manager_definition.this[0].definition).alertmanager_config).receivers : [
        length(try(receiver.sns_configs, [])) > 0,
        [for sns in try(receiver.sns_configs, []) : contains([for s in concat(values(aws_sns_topic_subscription.email), values(aws_sns_topic_subscription.ticket_email)) : s.topic_arn], sns.topic_arn)],
      ]
    ]))
    error_message = "An Alertmanager receiver publishes nowhere, or to a topic nobody subscribes to."
  }
  assert {
    condition = alltrue([
      for route in concat(
        [yamldecode(yamldecode(aws_prometheus_alert_manager_definition.this[0].definition).alertmanager_config).route],
        try(yamldecode(yamldecode(aws_prometheus_alert_manager_definition.this[0].definition).alertmanager_config).route.routes, []),
      ) : contains([for r in yamldecode(yamldecode(aws_prometheus_alert_manager_definition.this[0].definition).alertmanager_config).receivers : r.name], try(route.receiver, "default route's"))
    ])
    error_message = "An Alertmanager route (the default one included) names a receiver the definition does not have."
  }
  assert {
    condition = (
      toset([for s in aws_sns_topic_subscription.ticket_email : s.endpoint]) == toset(var.alarm_emails)
      && alltrue([for s in aws_sns_topic_subscription.ticket_email : s.topic_arn == aws_sns_topic.tickets.arn && s.protocol == "email"])
      && toset([for s in aws_sns_topic_subscription.email : s.endpoint]) == toset(var.alarm_emails)
      && alltrue([for s in aws_sns_topic_subscription.email : s.topic_arn == aws_sns_topic.alerts.arn && s.protocol == "email"])
    )
    error_message = "Every alarm address subscribes to both the alerts and the tickets topic."
  }
}

run "alertmanager_delivery_is_alarmed" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.amp_notifications_failed.namespace == "AWS/Prometheus"
      && aws_cloudwatch_metric_alarm.amp_notifications_failed.metric_name == "AlertManagerNotificationsFailed"
      && aws_cloudwatch_metric_alarm.amp_notifications_failed.dimensions.Workspace == aws_prometheus_workspace.this.id
      && aws_cloudwatch_metric_alarm.amp_notifications_failed.threshold == 0
      && aws_cloudwatch_metric_alarm.amp_notifications_failed.alarm_actions == toset([aws_sns_topic.alerts.arn])
    )
    error_message = "A CloudWatch alarm pages when the workspace's Alertmanager fails to publish a notification."
  }
}

run "rejects_no_email" {
  command = plan
  variables {
    alarm_emails = []
  }
  expect_failures = [var.alarm_emails]
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
