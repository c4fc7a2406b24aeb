output "bucket_name" {
  description = "Put this in the environments' backend.hcl as bucket."
  value       = module.state_backend.bucket_name
}

output "kms_key_arn" {
  description = "Put this in the environments' backend.hcl as kms_key_id."
  value       = module.state_backend.kms_key_arn
}

output "lock_table_name" {
  description = "Put this in backend.hcl as dynamodb_table when not using use_lockfile."
  value       = module.state_backend.lock_table_name
}

output "github_oidc_provider_arn" {
  description = "The account's GitHub OIDC provider, which every environment's CI roles trust (they look it up by URL)."
  value       = aws_iam_openid_connect_provider.github.arn
}
