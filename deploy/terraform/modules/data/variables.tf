variable "table_name" {
  description = "Name of the DynamoDB table holding the users."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.table_name))
    error_message = "table_name must be 3-255 characters of letters, digits, '_', '.' or '-'."
  }
}

variable "partition_key" {
  description = "Name of the table's string partition key; must be the one the service uses (deploy/service-contract.json)."
  type        = string

  validation {
    condition     = length(var.partition_key) > 0
    error_message = "partition_key must not be empty."
  }
}

variable "deletion_protection" {
  description = "Refuse DeleteTable while true. Keep it on in production."
  type        = bool
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the table's KMS key is deleted after a destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "key_user_role_arns" {
  description = "IAM roles (the ECS task role) allowed to use the table's KMS key, through DynamoDB only."
  type        = list(string)

  validation {
    condition     = alltrue([for arn in var.key_user_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", arn))])
    error_message = "key_user_role_arns must be IAM role ARNs."
  }
}
