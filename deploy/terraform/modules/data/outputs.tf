output "table_name" {
  description = "Name of the DynamoDB table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the DynamoDB table."
  value       = aws_dynamodb_table.this.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the table; the task role needs kms:Decrypt/GenerateDataKey through DynamoDB."
  value       = local.kms_key_arn
}

output "partition_key" {
  description = "Partition key of the table."
  value       = aws_dynamodb_table.this.hash_key
}

output "deletion_protection" {
  description = "Whether the table is protected from deletion."
  value       = aws_dynamodb_table.this.deletion_protection_enabled
}

output "replica_regions" {
  description = "Regions holding a replica of the table besides its own."
  value       = sort([for replica in aws_dynamodb_table.this.replica : replica.region_name])
}
