output "arn" {
  description = "ARN of the topic, for alarm actions in the provider's region."
  value       = aws_sns_topic.this.arn
}
