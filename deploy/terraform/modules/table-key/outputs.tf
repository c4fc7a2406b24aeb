output "arn" {
  description = "ARN of the key (a replica's kms_key_arn, or the table's own)."
  value       = aws_kms_key.this.arn
}
