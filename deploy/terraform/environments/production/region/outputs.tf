# Read by the workflows and first-deployment.sh (terraform output -json workflow | jq -r .NAME); the two registry
# outputs stand alone because the registry-first step of a first deployment creates nothing else.
output "workflow" {
  description = "Region, cluster, service, task family, container, deploy and Terraform roles, ALB DNS name, alarm prefix and GitHub environment."
  value       = module.stack.workflow
}

output "ecr_repository_url" {
  description = "Where the image workflow pushes."
  value       = module.stack.ecr_repository_url
}

output "ecr_repository_arn" {
  description = "ARN of this region's ECR repository (the primary's receives promoted images, the others replicas)."
  value       = module.stack.ecr_repository_arn
}

# Read by the global root (terraform_remote_state), one output each: the table key exists after the registry step
# of a first deployment, the load balancer only after the stack step.
output "table_kms_key_arn" {
  description = "KMS key of this region's table replica (the primary's: of the table itself)."
  value       = module.stack.table_kms_key_arn
}

output "alb_arn" {
  description = "This region's ALB: its endpoint in the global entry point."
  value       = module.stack.alb_arn

  precondition {
    # Terraform test runs in the default workspace; everywhere else each region has its own (first-deployment.sh,
    # .github/scripts/terraform-env.sh), so one region's inputs can never be applied to another's state.
    condition     = contains(["default", var.region], terraform.workspace)
    error_message = "Select the workspace named after the region (terraform workspace select ${var.region}) before applying it."
  }
}
