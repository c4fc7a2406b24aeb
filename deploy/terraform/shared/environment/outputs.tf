# Shared by every environment root (environments/*/outputs.tf link here): the workflows read the same outputs from each.

output "aws_region" {
  description = "Region of the environment."
  value       = module.stack.aws_region
}

output "ecr_repository_url" {
  description = "Where the image workflow pushes."
  value       = module.stack.ecr_repository_url
}

output "ecr_repository_arn" {
  description = "ARN of the ECR repository (staging's is production's staging_repository_arn)."
  value       = module.stack.ecr_repository_arn
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
  description = "role-to-assume of the deploy workflow (and, for staging, of the image workflow)."
  value       = module.stack.deploy_role_arn
}

output "terraform_plan_role_arn" {
  description = "Read-only role infra.yml assumes to plan on pull requests (repository variable TF_PLAN_ROLE_ARN_<ENV>)."
  value       = module.stack.terraform_plan_role_arn
}

output "terraform_apply_role_arn" {
  description = "Role infra.yml assumes in the <env>-infra GitHub environment to apply (repository variable TF_APPLY_ROLE_ARN_<ENV>)."
  value       = module.stack.terraform_apply_role_arn
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
