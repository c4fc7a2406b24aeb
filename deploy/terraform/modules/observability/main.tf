data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name

  lb_dims  = { LoadBalancer = var.watched.alb_arn_suffix }
  tg_dims  = { LoadBalancer = var.watched.alb_arn_suffix, TargetGroup = var.watched.target_group_arn_suffix }
  ecs_dims = { ClusterName = var.watched.cluster_name, ServiceName = var.watched.service_name }

  # Anchor names in docs/operations/runbook.md; the runbook has one section per alarm.
  runbook = {
    alb_5xx        = "${var.runbook_url}#alb-5xx-rate"
    target_5xx     = "${var.runbook_url}#target-5xx-rate"
    p99            = "${var.runbook_url}#target-p99-latency"
    unhealthy      = "${var.runbook_url}#unhealthy-hosts"
    running_tasks  = "${var.runbook_url}#running-tasks-below-desired"
    ddb_throttles  = "${var.runbook_url}#dynamodb-throttles"
    ddb_sys_errors = "${var.runbook_url}#dynamodb-system-errors"
    amp_ingestion  = "${var.runbook_url}#metrics-not-reaching-the-workspace"
    amp_delivery   = "${var.runbook_url}#alertmanager-notifications-failed"
  }
}

# One key for the alert topic and every log group of the stack: CloudWatch must be able to publish to an
# encrypted topic, which the AWS managed SNS key does not allow.
resource "aws_kms_key" "observability" {
  #parliament:skip=UNKNOWN_CONDITION_FOR_ACTION:AWS's documented key policy for CloudWatch Logs grants kms:Describe* under the aws:logs:arn encryption-context condition; Logs sends that context with every call it makes.
  #parliament:skip=MISMATCHED_TYPE:The ArnLike value is an ARN pattern ending in a wildcard (this account's log groups), which parliament reads as a plain string.
  description             = "Encrypts ${var.name} alerts and log groups"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncryptsThisAccountsGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${data.aws_partition.current.partition}:logs:${local.region}:${local.account_id}:*" }
        }
      },
      {
        Sid       = "CloudWatchAlarmsPublishToTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
      {
        Sid       = "PrometheusAlertmanagerPublishesToTopics"
        Effect    = "Allow"
        Principal = { Service = "aps.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })
}

resource "aws_kms_alias" "observability" {
  name          = "alias/${var.name}-observability"
  target_key_id = aws_kms_key.observability.key_id
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = aws_kms_key.observability.arn
}

# Tickets (slow SLO burns, store errors, dropped logs, shed load) go to their own topic, so that a chat channel or
# a ticket queue can take them apart from pages; the alarm emails subscribe to it too, so a ticket reaches a person
# from the first day, before any such integration exists.
resource "aws_sns_topic" "tickets" {
  name              = "${var.name}-tickets"
  kms_master_key_id = aws_kms_key.observability.arn
}

locals {
  topics = { alerts = aws_sns_topic.alerts, tickets = aws_sns_topic.tickets }
}

# Replaces the default topic policy, so it says again what the default allowed (the account manages and
# publishes) and adds the workspace's Alertmanager, which publishes as the aps service.
resource "aws_sns_topic_policy" "this" {
  for_each = local.topics

  arn = each.value.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountManagesAndPublishes"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root" }
        Action    = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:ListSubscriptionsByTopic"]
        Resource  = each.value.arn
      },
      {
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = each.value.arn
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
      {
        Sid       = "PrometheusAlertmanagerPublishes"
        Effect    = "Allow"
        Principal = { Service = "aps.amazonaws.com" }
        Action    = ["sns:Publish", "sns:GetTopicAttributes"]
        Resource  = each.value.arn
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnEquals    = { "aws:SourceArn" = aws_prometheus_workspace.this.arn }
        }
      },
    ]
  })
}

# --- Amazon Managed Service for Prometheus: the service's own metrics, SLO rules and their alerts ---

resource "aws_cloudwatch_log_group" "prometheus" {
  name              = "/aws/prometheus/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.observability.arn
  #checkov:skip=CKV_AWS_338:Rule evaluation and Alertmanager errors are for debugging; retention is set per environment, not kept a year.
}

resource "aws_prometheus_workspace" "this" {
  alias       = var.name
  kms_key_arn = aws_kms_key.observability.arn

  # Rule evaluation and Alertmanager delivery errors (a rule that stopped parsing, SNS refusing a message).
  logging_configuration {
    log_group_arn = "${aws_cloudwatch_log_group.prometheus.arn}:*"
  }
}

# The rules generated from deploy/monitoring/slos.yaml, the same file promtool tests.
resource "aws_prometheus_rule_group_namespace" "slo" {
  name         = "slo"
  workspace_id = aws_prometheus_workspace.this.id
  data         = templatefile("${path.module}/../../../monitoring/rules/${var.environment}.rules.yml", { runbook_url = var.runbook_url })
}

# What the emulator run leaves out of this module: nothing here, and nothing in AWS. The smoke test's override file
# (deploy/terraform/tests/smoke/observability_moto_override.tf.tpl, copied into this folder of its scratch copy only)
# sets ["alertmanager"]: moto has no Alertmanager definition API. deploy/terraform/README.md, "Emulator exclusions",
# lists every exclusion.
locals {
  emulator_excludes = toset([])
}

resource "aws_prometheus_alert_manager_definition" "this" {
  count = contains(local.emulator_excludes, "alertmanager") ? 0 : 1

  workspace_id = aws_prometheus_workspace.this.id
  definition = templatefile("${path.module}/../../../monitoring/alertmanager.yml", {
    page_topic_arn   = aws_sns_topic.alerts.arn
    ticket_topic_arn = aws_sns_topic.tickets.arn
    region           = local.region
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "ticket_email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.tickets.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- Alarms ---

# Alarms on a metric-math expression over two or three inputs: one resource, one map entry each.
locals {
  rate_expression = "IF(FILL(requests, 0) >= ${var.thresholds.min_requests_per_minute}, 100 * FILL(errors, 0) / requests, 0)"

  expression_alarms = {
    alb-5xx-rate = {
      description = "More than ${var.thresholds.alb_5xx_rate_percent}% of requests answered 5xx by the ALB itself (no healthy target, timeouts). Runbook: ${local.runbook.alb_5xx}"
      threshold   = var.thresholds.alb_5xx_rate_percent
      expression  = { id = "rate", label = "ALB 5xx %", formula = local.rate_expression }
      inputs = {
        errors   = { namespace = "AWS/ApplicationELB", metric_name = "HTTPCode_ELB_5XX_Count", dimensions = local.lb_dims, stat = "Sum" }
        requests = { namespace = "AWS/ApplicationELB", metric_name = "RequestCount", dimensions = local.lb_dims, stat = "Sum" }
      }
    }
    target-5xx-rate = {
      description = "More than ${var.thresholds.target_5xx_rate_percent}% of requests answered 5xx by the service. Runbook: ${local.runbook.target_5xx}"
      threshold   = var.thresholds.target_5xx_rate_percent
      expression  = { id = "rate", label = "Target 5xx %", formula = local.rate_expression }
      inputs = {
        errors   = { namespace = "AWS/ApplicationELB", metric_name = "HTTPCode_Target_5XX_Count", dimensions = local.tg_dims, stat = "Sum" }
        requests = { namespace = "AWS/ApplicationELB", metric_name = "RequestCount", dimensions = local.tg_dims, stat = "Sum" }
      }
    }
    running-tasks-below-desired = {
      description = "Fewer tasks running than desired for 5 minutes (crash loop, capacity, image pull). Runbook: ${local.runbook.running_tasks}"
      threshold   = 0
      periods     = 5
      # No Container Insights data at all means the service is gone, which is worth waking up for.
      missing_data = "breaching"
      expression   = { id = "missing", label = "Tasks missing", formula = "desired - running" }
      inputs = {
        desired = { namespace = "ECS/ContainerInsights", metric_name = "DesiredTaskCount", dimensions = local.ecs_dims, stat = "Minimum" }
        running = { namespace = "ECS/ContainerInsights", metric_name = "RunningTaskCount", dimensions = local.ecs_dims, stat = "Minimum" }
      }
    }
    dynamodb-throttles = {
      description = "DynamoDB throttled reads or writes on ${var.watched.table_name}. Runbook: ${local.runbook.ddb_throttles}"
      threshold   = 0
      expression  = { id = "throttles", label = "Throttle events", formula = "FILL(reads, 0) + FILL(writes, 0)" }
      inputs = {
        reads  = { namespace = "AWS/DynamoDB", metric_name = "ReadThrottleEvents", dimensions = { TableName = var.watched.table_name }, stat = "Sum" }
        writes = { namespace = "AWS/DynamoDB", metric_name = "WriteThrottleEvents", dimensions = { TableName = var.watched.table_name }, stat = "Sum" }
      }
    }
    dynamodb-system-errors = {
      description = "DynamoDB answered the service's GetItem/PutItem with 5xx (service-side errors). Runbook: ${local.runbook.ddb_sys_errors}"
      threshold   = 0
      expression  = { id = "errors", label = "System errors", formula = "FILL(get, 0) + FILL(put, 0)" }
      inputs = {
        get = { namespace = "AWS/DynamoDB", metric_name = "SystemErrors", dimensions = { TableName = var.watched.table_name, Operation = "GetItem" }, stat = "Sum" }
        put = { namespace = "AWS/DynamoDB", metric_name = "SystemErrors", dimensions = { TableName = var.watched.table_name, Operation = "PutItem" }, stat = "Sum" }
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "expression" {
  for_each = local.expression_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  # Three minutes with two breaching, unless the entry says otherwise: one bad minute is noise.
  evaluation_periods  = lookup(each.value, "periods", 3)
  datapoints_to_alarm = lookup(each.value, "periods", 2)
  treat_missing_data  = lookup(each.value, "missing_data", "notBreaching")
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]

  metric_query {
    id          = each.value.expression.id
    expression  = each.value.expression.formula
    label       = each.value.expression.label
    return_data = true
  }
  dynamic "metric_query" {
    for_each = each.value.inputs
    content {
      id = metric_query.key
      metric {
        namespace   = metric_query.value.namespace
        metric_name = metric_query.value.metric_name
        dimensions  = metric_query.value.dimensions
        period      = 60
        stat        = metric_query.value.stat
      }
    }
  }
}

moved {
  from = aws_cloudwatch_metric_alarm.alb_5xx_rate
  to   = aws_cloudwatch_metric_alarm.expression["alb-5xx-rate"]
}
moved {
  from = aws_cloudwatch_metric_alarm.target_5xx_rate
  to   = aws_cloudwatch_metric_alarm.expression["target-5xx-rate"]
}
moved {
  from = aws_cloudwatch_metric_alarm.running_tasks_below_desired
  to   = aws_cloudwatch_metric_alarm.expression["running-tasks-below-desired"]
}
moved {
  from = aws_cloudwatch_metric_alarm.dynamodb_throttles
  to   = aws_cloudwatch_metric_alarm.expression["dynamodb-throttles"]
}
moved {
  from = aws_cloudwatch_metric_alarm.dynamodb_system_errors
  to   = aws_cloudwatch_metric_alarm.expression["dynamodb-system-errors"]
}

resource "aws_cloudwatch_metric_alarm" "target_p99_latency" {
  alarm_name          = "${var.name}-target-p99-latency"
  alarm_description   = "p99 target response time above ${var.thresholds.p99_latency_seconds}s. Runbook: ${local.runbook.p99}"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.tg_dims
  extended_statistic  = "p99"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.p99_latency_seconds
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

# Outside the workspace, so it still fires when the workspace's own rules cannot (no samples arrive at all): every
# task's collector writes the service's and the task's metrics. It says nothing about delivery: samples can arrive
# while the Alertmanager fails to publish to SNS, which the next alarm watches.
resource "aws_cloudwatch_metric_alarm" "amp_ingestion" {
  alarm_name          = "${var.name}-metrics-not-reaching-the-workspace"
  alarm_description   = "The Prometheus workspace received no samples for 5 minutes: no collector writes, so the SLO alerts are blind. Runbook: ${local.runbook.amp_ingestion}"
  namespace           = "AWS/Usage"
  metric_name         = "ResourceCount"
  dimensions          = { Service = "Prometheus", Type = "Resource", Resource = "IngestionRate", Class = "None", ResourceId = aws_prometheus_workspace.this.id }
  statistic           = "Average"
  period              = 60
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  # No usage data at all is exactly the failure this alarm is for.
  treat_missing_data = "breaching"
  alarm_actions      = [aws_sns_topic.alerts.arn]
  ok_actions         = [aws_sns_topic.alerts.arn]
}

# The workspace's Alertmanager could not publish a notification (SNS refused it: a topic policy or key policy that
# no longer lets aps publish, a deleted topic, throttling), so SLO pages and tickets are lost. Vended by the
# workspace in AWS/Prometheus only when a notification fails; CloudWatch publishes as its own principal, which the
# topic policy allows separately, so this alarm still gets through.
resource "aws_cloudwatch_metric_alarm" "amp_notifications_failed" {
  alarm_name          = "${var.name}-alertmanager-notifications-failed"
  alarm_description   = "The Prometheus workspace's Alertmanager failed to deliver notifications to SNS: SLO pages and tickets are not reaching anyone. Runbook: ${local.runbook.amp_delivery}"
  namespace           = "AWS/Prometheus"
  metric_name         = "AlertManagerNotificationsFailed"
  dimensions          = { Workspace = aws_prometheus_workspace.this.id }
  statistic           = "Sum"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 5
  datapoints_to_alarm = 1
  # The metric exists only when a notification fails.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_sns_topic.alerts.arn]
  ok_actions         = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${var.name}-unhealthy-hosts"
  alarm_description   = "At least one registered task fails the /readyz health check. Runbook: ${local.runbook.unhealthy}"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.tg_dims
  statistic           = "Maximum"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

# --- Dashboard: the same signals as the alarms, one row per layer. ---

locals {
  widget = {
    width  = 8
    height = 6
  }
  widgets = [
    {
      title = "ALB requests and 5xx"
      metrics = [
        ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.watched.alb_arn_suffix, { stat = "Sum" }],
        ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.watched.alb_arn_suffix, { stat = "Sum" }],
        ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.watched.alb_arn_suffix, "TargetGroup", var.watched.target_group_arn_suffix, { stat = "Sum" }],
      ]
    },
    {
      title   = "Target response time"
      metrics = [for p in ["p50", "p90", "p99"] : ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.watched.alb_arn_suffix, "TargetGroup", var.watched.target_group_arn_suffix, { stat = p }]]
    },
    {
      title = "Target health"
      metrics = [
        ["AWS/ApplicationELB", "HealthyHostCount", "LoadBalancer", var.watched.alb_arn_suffix, "TargetGroup", var.watched.target_group_arn_suffix, { stat = "Minimum" }],
        ["AWS/ApplicationELB", "UnHealthyHostCount", "LoadBalancer", var.watched.alb_arn_suffix, "TargetGroup", var.watched.target_group_arn_suffix, { stat = "Maximum" }],
      ]
    },
    {
      title = "ECS tasks"
      metrics = [
        ["ECS/ContainerInsights", "DesiredTaskCount", "ClusterName", var.watched.cluster_name, "ServiceName", var.watched.service_name, { stat = "Minimum" }],
        ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.watched.cluster_name, "ServiceName", var.watched.service_name, { stat = "Minimum" }],
        ["ECS/ContainerInsights", "PendingTaskCount", "ClusterName", var.watched.cluster_name, "ServiceName", var.watched.service_name, { stat = "Maximum" }],
      ]
    },
    {
      title = "ECS CPU and memory %"
      metrics = [
        ["AWS/ECS", "CPUUtilization", "ClusterName", var.watched.cluster_name, "ServiceName", var.watched.service_name, { stat = "Average" }],
        ["AWS/ECS", "MemoryUtilization", "ClusterName", var.watched.cluster_name, "ServiceName", var.watched.service_name, { stat = "Average" }],
      ]
    },
    {
      title = "DynamoDB throttles and errors"
      metrics = [
        ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", var.watched.table_name, { stat = "Sum" }],
        ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", var.watched.table_name, { stat = "Sum" }],
        ["AWS/DynamoDB", "SystemErrors", "TableName", var.watched.table_name, "Operation", "GetItem", { stat = "Sum" }],
        ["AWS/DynamoDB", "SystemErrors", "TableName", var.watched.table_name, "Operation", "PutItem", { stat = "Sum" }],
      ]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = concat(
      [{
        type   = "alarm"
        x      = 0
        y      = 0
        width  = 24
        height = 3
        properties = {
          title  = "Alarms"
          alarms = [for a in local.alarms : a.arn]
        }
      }],
      [for i, w in local.widgets : {
        type   = "metric"
        x      = (i % 3) * local.widget.width
        y      = 3 + floor(i / 3) * local.widget.height
        width  = local.widget.width
        height = local.widget.height
        properties = {
          title   = w.title
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = 60
          metrics = w.metrics
        }
      }],
    )
  })
}

locals {
  alarms = concat(
    values(aws_cloudwatch_metric_alarm.expression),
    [aws_cloudwatch_metric_alarm.target_p99_latency, aws_cloudwatch_metric_alarm.unhealthy_hosts, aws_cloudwatch_metric_alarm.amp_ingestion, aws_cloudwatch_metric_alarm.amp_notifications_failed],
  )
}
