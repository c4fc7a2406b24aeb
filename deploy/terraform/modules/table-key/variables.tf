variable "table_name" {
  description = "Table the key encrypts (its alias is alias/TABLE_NAME in the provider's region)."
  type        = string
}

variable "key_user_role_arns" {
  description = "IAM roles (the region's ECS task role) allowed to use the key, through DynamoDB in this region only."
  type        = list(string)

  validation {
    condition     = length(var.key_user_role_arns) > 0 && alltrue([for arn in var.key_user_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", arn))])
    error_message = "key_user_role_arns must be IAM role ARNs (at least one)."
  }
}

variable "deletion_window_days" {
  description = "Waiting period before the key is deleted after a destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_days >= 7 && var.deletion_window_days <= 30
    error_message = "deletion_window_days must be between 7 and 30."
  }
}

variable "prevent_destroy" {
  description = "Refuse to destroy or replace the key (a guard resource with lifecycle.prevent_destroy). Keep it on wherever the table matters; off only for throw-away environments."
  type        = bool
  default     = true
}
