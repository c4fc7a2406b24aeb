output "table_name" {
  description = "The global table (the same name in every region)."
  value       = module.data.table_name
}

output "replica_regions" {
  description = "Regions holding a replica besides the primary."
  value       = module.data.replica_regions
}

output "entry_point" {
  description = "The accelerator's DNS name and static addresses (point the service's domain at them), its endpoint group ARN per region (the traffic dial lever) and health checks; null where it is not applied (the emulator)."
  value = one([for ep in module.entry_point[*] : {
    dns_name            = ep.dns_name
    static_ips          = ep.static_ips
    endpoint_group_arns = ep.endpoint_group_arns
    health_check        = ep.health_check
  }])
}

output "image_repository_urls" {
  description = "Image repository per region that receives the primary's images (empty with one region)."
  value       = one(module.image_replication[*].repository_urls)
}

output "dashboard_name" {
  description = "CloudWatch dashboard spanning the regions."
  value       = aws_cloudwatch_dashboard.global.dashboard_name
}

output "cross_cloud" {
  description = "The cross-cloud entry point: the side answered while healthy (primary: aws or standby), what each side's record answers, and each side's Route 53 health check; null without cross_cloud."
  value = one([for entry in module.cross_cloud : {
    primary          = entry.primary
    records          = entry.records
    health_check_ids = entry.health_check_ids
  }])
}
