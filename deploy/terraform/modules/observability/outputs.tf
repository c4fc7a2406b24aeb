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
