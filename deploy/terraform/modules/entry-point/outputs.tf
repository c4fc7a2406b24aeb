output "dns_name" {
  description = "DNS name of the accelerator: point the service's domain at it (alias record) or at its static addresses."
  value       = aws_globalaccelerator_accelerator.this.dns_name
}

output "static_ips" {
  description = "The accelerator's two static anycast IPv4 addresses."
  value       = flatten([for set in aws_globalaccelerator_accelerator.this.ip_sets : set.ip_addresses])
}

output "endpoint_group_arns" {
  description = "Endpoint group ARN per region (the traffic dial of the region failover runbook is set on these)."
  value       = { for region, group in aws_globalaccelerator_endpoint_group.region : region => group.arn }
}

output "health_check" {
  description = "Health-check settings per region: path, interval (s) and threshold."
  value = {
    for region, group in aws_globalaccelerator_endpoint_group.region : region => {
      path      = group.health_check_path
      interval  = group.health_check_interval_seconds
      threshold = group.threshold_count
    }
  }
}

output "accelerator_id" {
  description = "The accelerator's id, the Accelerator dimension of its CloudWatch metrics."
  value       = split("/", aws_globalaccelerator_accelerator.this.id)[1]
}

output "traffic_dials" {
  description = "Traffic dial (percent) per region."
  value       = { for region, group in aws_globalaccelerator_endpoint_group.region : region => group.traffic_dial_percentage }
}
