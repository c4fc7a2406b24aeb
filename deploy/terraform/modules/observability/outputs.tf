output "alert_topic_arn" {
  description = "SNS topic every alarm notifies; subscribe paging/chat integrations here."
  value       = aws_sns_topic.alerts.arn
}

output "kms_key_arn" {
  description = "KMS key for the alert topic and the stack's log groups."
  value       = aws_kms_key.observability.arn
}

output "alarm_names" {
  description = "Names of all alarms."
  value       = [for a in local.alarms : a.alarm_name]
}

output "deployment_alarm_names" {
  description = "Alarms that roll an ECS deployment back when they fire during it: errors and latency the new tasks cause."
  value = [
    aws_cloudwatch_metric_alarm.expression["alb-5xx-rate"].alarm_name,
    aws_cloudwatch_metric_alarm.expression["target-5xx-rate"].alarm_name,
    aws_cloudwatch_metric_alarm.target_p99_latency.alarm_name,
  ]
}

output "runbook_links" {
  description = "Runbook anchor each alarm links to."
  value       = local.runbook
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "ticket_topic_arn" {
  description = "SNS topic the workspace's Alertmanager sends tickets (severity ticket) to; pages go to alert_topic_arn."
  value       = aws_sns_topic.tickets.arn
}

output "prometheus_workspace_arn" {
  description = "ARN of the Amazon Managed Service for Prometheus workspace (the collectors may remote-write to it only)."
  value       = aws_prometheus_workspace.this.arn
}

output "prometheus_remote_write_url" {
  description = "Remote-write endpoint of the workspace, for the collector sidecar."
  value       = "${aws_prometheus_workspace.this.prometheus_endpoint}api/v1/remote_write"
}

output "prometheus_query_url" {
  description = "Query endpoint of the workspace (the Grafana data source for deploy/monitoring/dashboards/slo.json)."
  value       = aws_prometheus_workspace.this.prometheus_endpoint
}
