output "bucket_name" {
  description = "State bucket; the bucket setting of every environment's backend."
  value       = aws_s3_bucket.state.id
}

output "bucket_arn" {
  description = "ARN of the state bucket."
  value       = aws_s3_bucket.state.arn
}

output "kms_key_arn" {
  description = "KMS key encrypting the state; the kms_key_id setting of the backends."
  value       = aws_kms_key.state.arn
}

output "lock_table_name" {
  description = "DynamoDB lock table (dynamodb_table backend setting), or null when use_lockfile is used instead."
  value       = var.create_lock_table ? aws_dynamodb_table.lock[0].name : null
}
