output "aws_region" {
  description = "Region the stack runs in."
  value       = local.region
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

output "readiness_source_cidrs" {
  description = "Address ranges whose GET of the readiness path on load_balancer.readiness_host the ALB forwards (Route 53's health checkers); empty without it."
  value       = module.edge.readiness_source_cidrs
}

output "table_name" {
  description = "DynamoDB table of the service (in a multi-region environment, its replica in this region)."
  value       = local.name
}

output "table_arn" {
  description = "The table (or this region's replica) the task role may read and write."
  value       = local.table_arn
}

output "table_kms_key_arn" {
  description = "Multi-region only: the KMS key of this region's replica, for the global root; null otherwise."
  value       = one(module.table_key[*].arn)
}

output "alb_arn" {
  description = "ARN of the ALB: this region's endpoint in the global entry point."
  value       = module.edge.alb_arn
}

output "workflow" {
  description = "What the workflows and first-deployment.sh read (terraform output -json workflow), one object so that every environment root passes it on with one output."
  value = {
    aws_region               = data.aws_region.current.name
    ecr_repository_url       = module.registry.repository_url
    ecr_repository_arn       = module.registry.repository_arn
    cluster_name             = module.service.cluster_name
    service_name             = module.service.service_name
    task_definition_family   = module.service.task_definition_family
    container_name           = module.service.container_name
    deploy_role_arn          = module.ci_access.role_arn
    terraform_plan_role_arn  = module.ci_access.terraform_plan_role_arn
    terraform_apply_role_arn = module.ci_access.terraform_apply_role_arn
    alb_dns_name             = module.edge.alb_dns_name
    alarm_name_prefix        = local.regional_name
    github_environment       = local.github_environment
  }
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
