output "aws_region" {
  description = "Region the stack runs in."
  value       = data.aws_region.current.name
}

output "ecr_repository_url" {
  description = "Where the image workflow pushes (REGISTRY/REPOSITORY)."
  value       = module.registry.repository_url
}

output "ecr_repository_arn" {
  description = "ARN of the ECR repository (staging's is production's image_source_repository_arn)."
  value       = module.registry.repository_arn
}

output "ecr_repository_name" {
  description = "Name of the ECR repository."
  value       = module.registry.repository_name
}

output "cluster_name" {
  description = "ECS cluster name (aws ecs ... --cluster)."
  value       = module.service.cluster_name
}

output "service_name" {
  description = "ECS service name (aws ecs update-service --service)."
  value       = module.service.service_name
}

output "task_definition_family" {
  description = "Task definition family the deploy workflow registers new revisions in."
  value       = module.service.task_definition_family
}

output "container_name" {
  description = "Container whose image the deploy workflow replaces with the new digest."
  value       = module.service.container_name
}

output "task_role_arn" {
  description = "Task role (DynamoDB access)."
  value       = module.service.task_role_arn
}

output "execution_role_arn" {
  description = "Task execution role (image pull, logs)."
  value       = module.service.execution_role_arn
}

output "deploy_role_arn" {
  description = "Role GitHub Actions assumes through OIDC to push and deploy (role-to-assume)."
  value       = module.ci_access.role_arn
}

output "terraform_plan_role_arn" {
  description = "Read-only role infra.yml assumes to plan on pull requests (TF_PLAN_ROLE_ARN_<ENV>)."
  value       = module.ci_access.terraform_plan_role_arn
}

output "terraform_apply_role_arn" {
  description = "Role infra.yml assumes in the <env>-infra GitHub environment to apply (TF_APPLY_ROLE_ARN_<ENV>)."
  value       = module.ci_access.terraform_apply_role_arn
}

output "alb_dns_name" {
  description = "DNS name of the ALB: the smoke test's target, and the alias target of the service's domain."
  value       = module.edge.alb_dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the ALB, for Route 53 alias records."
  value       = module.edge.alb_zone_id
}

output "table_name" {
  description = "DynamoDB table of the service."
  value       = module.data.table_name
}

output "alert_topic_arn" {
  description = "SNS topic of all alarms."
  value       = module.observability.alert_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the environment."
  value       = module.observability.dashboard_name
}

output "log_group_name" {
  description = "Application log group."
  value       = module.service.log_group_name
}

output "runbook_links" {
  description = "Runbook anchor of each alarm."
  value       = module.observability.runbook_links
}
