output "alb_arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the load balancer (the LoadBalancer dimension of its CloudWatch metrics)."
  value       = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the load balancer; point the service's domain (alias record) at it."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Route 53 hosted zone of the load balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "alb_security_group_id" {
  description = "Security group of the load balancer; the only source the tasks accept traffic from."
  value       = aws_security_group.alb.id
}

output "target_group_arn" {
  description = "ARN of the service's target group."
  value       = aws_lb_target_group.service.arn
  # ECS refuses a target group that no listener routes to yet.
  depends_on = [aws_lb_listener_rule.service]
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the target group (the TargetGroup dimension of its CloudWatch metrics)."
  value       = aws_lb_target_group.service.arn_suffix
}

output "https_listener_arn" {
  description = "ARN of the HTTPS listener."
  value       = aws_lb_listener.https.arn
}

output "web_acl_arn" {
  description = "ARN of the WAFv2 web ACL."
  value       = aws_wafv2_web_acl.this.arn
}

output "access_log_bucket" {
  description = "S3 bucket receiving the ALB access logs."
  value       = aws_s3_bucket.access_logs.id
}

output "health_check_path" {
  description = "Path the target group probes, as planned."
  value       = aws_lb_target_group.service.health_check[0].path
}

output "target_port" {
  description = "Port the target group sends traffic to, as planned."
  value       = aws_lb_target_group.service.port
}

output "forwarded_path_patterns" {
  description = "Path patterns the HTTPS listener forwards to the service; everything else is a fixed 404."
  value       = flatten([for c in aws_lb_listener_rule.service.condition : c.path_pattern[0].values])
}

output "readiness_source_cidrs" {
  description = "Address ranges whose GET of the readiness path on the readiness host is forwarded (Route 53's health checkers); empty without readiness_host."
  value       = flatten([for rule in aws_lb_listener_rule.readiness : [for c in rule.condition : c.source_ip[0].values if length(c.source_ip) > 0]])
}

output "deletion_protection" {
  description = "Whether the ALB is protected from deletion."
  value       = aws_lb.this.enable_deletion_protection
}

output "idle_timeout_seconds" {
  description = "The ALB idle timeout; the service's keep-alive idle timeout must exceed it."
  value       = aws_lb.this.idle_timeout
}
