output "role_arn" {
  description = "ARN of the deploy role (the GitHub workflow's role-to-assume)."
  value       = aws_iam_role.deploy.arn
}

output "role_name" {
  description = "Name of the deploy role."
  value       = aws_iam_role.deploy.name
}

output "oidc_provider_arn" {
  description = "ARN of the GitHub OIDC provider the role trusts."
  value       = local.oidc_provider_arn
}

output "terraform_plan_role_arn" {
  description = "ARN of the read-only Terraform plan role (infra.yml, pull requests)."
  value       = aws_iam_role.terraform_plan.arn
}

output "terraform_apply_role_arn" {
  description = "ARN of the Terraform apply role (infra.yml, the *-infra environment)."
  value       = aws_iam_role.terraform_apply.arn
}

output "deploy_policy" {
  description = "The deploy role's permissions (JSON policy document), for review and for the stack's tests."
  value       = aws_iam_role_policy.deploy.policy
}

output "deploy_subjects" {
  description = "Full OIDC subject claims that may assume the deploy role."
  value       = jsondecode(aws_iam_role.deploy.assume_role_policy).Statement[0].Condition.StringEquals["${local.oidc_host}:sub"]
}
