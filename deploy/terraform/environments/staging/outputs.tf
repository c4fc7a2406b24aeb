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
  description = "ARN of the ECR repository: every production region's staging_repository_arn."
  value       = module.stack.ecr_repository_arn
}
