output "arn" {
  description = "ARN of the key (a replica's kms_key_arn, or the table's own)."
  value       = aws_kms_key.this.arn
}

output "prevent_destroy" {
  description = "Whether Terraform refuses to destroy or replace the key."
  value       = length(terraform_data.destroy_guard) > 0
}
