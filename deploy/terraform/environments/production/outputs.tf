output "aws_region" {
  description = "Region of the environment."
  value       = module.stack.aws_region
}

output "ecr_repository_url" {
  description = "Where the image workflow pushes."
  value       = module.stack.ecr_repository_url
}

output "cluster_name" {
  description = "ECS cluster name."
  value       = module.stack.cluster_name
}

output "service_name" {
  description = "ECS service name."
  value       = module.stack.service_name
}

output "task_definition_family" {
  description = "Task definition family the deploy workflow registers revisions in."
  value       = module.stack.task_definition_family
}

output "container_name" {
  description = "Container whose image the deploy workflow replaces."
  value       = module.stack.container_name
}

output "deploy_role_arn" {
  description = "role-to-assume for GitHub Actions."
  value       = module.stack.deploy_role_arn
}

output "alb_dns_name" {
  description = "DNS name of the ALB."
  value       = module.stack.alb_dns_name
}

output "table_name" {
  description = "DynamoDB table."
  value       = module.stack.table_name
}

output "alert_topic_arn" {
  description = "SNS alert topic."
  value       = module.stack.alert_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = module.stack.dashboard_name
}
