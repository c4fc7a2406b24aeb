output "health_check_ids" {
  description = "Route 53 health check of each side (aws, standby), for dashboards and calculated checks."
  value       = { for side, check in aws_route53_health_check.side : side => check.id }
}

output "primary" {
  description = "The side answered while it is healthy: the writer."
  value       = var.writer
}
