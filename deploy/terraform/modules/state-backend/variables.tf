variable "bucket_name" {
  description = "Globally unique name of the state bucket, e.g. hello-birthday-tfstate-ACCOUNT_ID."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')."
  }
}

variable "create_lock_table" {
  description = "Also create a DynamoDB lock table, for Terraform < 1.10 which cannot lock with use_lockfile."
  type        = bool
  default     = false
}

variable "noncurrent_version_retention_days" {
  description = "Days old state versions are kept (to recover from a bad apply)."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_retention_days >= 7
    error_message = "noncurrent_version_retention_days must be at least 7."
  }
}

variable "force_destroy" {
  description = "Allow destroying the bucket while it holds state. Only for tests."
  type        = bool
  default     = false
}
