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
  description = "Refuse DeleteTable while true, and refuse a Terraform destroy or replacement of the table and its own key. Keep it on in production."
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
  description = "IAM roles (the ECS task role) allowed to use the table's KMS key, through DynamoDB only; only when this module creates the key (kms_key_arn null)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.key_user_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", arn))])
    error_message = "key_user_role_arns must be IAM role ARNs."
  }
}

variable "kms_key_arn" {
  description = "KMS key (in the table's region) that encrypts the table, made by that region's stack (modules/table-key); null: this module creates one for key_user_role_arns."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "replicas" {
  description = <<-EOT
    Other regions that hold a replica of the table (a DynamoDB global table, version 2019.11.21), keyed by region
    name, each with the KMS key that encrypts the replica there (a key in that region). Empty: a single-region table.
  EOT
  type = map(object({
    kms_key_arn = string
  }))
  default = {}

  validation {
    condition     = alltrue([for region in keys(var.replicas) : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", region))])
    error_message = "replicas must be keyed by AWS region names such as eu-central-1."
  }
  validation {
    condition     = alltrue([for region, r in var.replicas : can(regex("^arn:aws[a-z-]*:kms:${region}:[0-9]{12}:key/", r.kms_key_arn))])
    error_message = "Each replica's kms_key_arn must be a KMS key ARN in the replica's own region."
  }
}
