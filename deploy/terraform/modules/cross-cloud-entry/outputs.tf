output "health_check_ids" {
  description = "Route 53 health check of each side (aws, standby), for dashboards and calculated checks."
  value       = { for side, check in aws_route53_health_check.side : side => check.id }
}

output "primary" {
  description = "The side answered while it is healthy: the writer."
  value       = var.writer
}

output "records" {
  description = "What each side's record answers for the service's name: its failover role (PRIMARY or SECONDARY) and its answers (the accelerator's DNS name, aliased; the standby's addresses)."
  value = {
    aws     = { failover = aws_route53_record.aws.failover_routing_policy[0].type, answers = tolist([aws_route53_record.aws.alias[0].name]) }
    standby = { failover = aws_route53_record.standby.failover_routing_policy[0].type, answers = sort(aws_route53_record.standby.records) }
  }
}
