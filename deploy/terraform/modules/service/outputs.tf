output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "service_arn" {
  description = "ARN of the ECS service."
  value       = aws_ecs_service.this.id
}

output "task_definition_family" {
  description = "Family the deploy workflow registers new revisions in."
  value       = aws_ecs_task_definition.this.family
}

output "task_definition_arn" {
  description = "ARN of the revision Terraform registered."
  value       = aws_ecs_task_definition.this.arn
}

output "container_name" {
  description = "Name of the container whose image the deploy workflow replaces."
  value       = var.container.name
}

output "task_role_arn" {
  description = "ARN of the task role (what the service's code may do)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "ARN of the task execution role (image pull, logs)."
  value       = aws_iam_role.execution.arn
}

output "task_security_group_id" {
  description = "Security group of the tasks."
  value       = aws_security_group.task.id
}

output "log_group_name" {
  description = "CloudWatch log group of the application."
  value       = aws_cloudwatch_log_group.app.name
}

output "container_port" {
  description = "Port the container exposes, as registered in the task definition."
  value       = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].portMappings[0].containerPort
}

output "container_environment" {
  description = "Environment of the container, as registered in the task definition."
  value       = { for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name => e.value }
}

output "load_balancer_container_port" {
  description = "Port the ECS service registers in the target group."
  value       = one(aws_ecs_service.this.load_balancer).container_port
}

output "collector_environment" {
  description = "Environment of the metrics collector sidecar, as registered in the task definition."
  value       = { for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[1].environment : e.name => e.value }
}

output "task_policy" {
  description = "The task role's policy on the table (JSON): the table, or the region's replica, it may read and write."
  value       = aws_iam_role_policy.task.policy
}
