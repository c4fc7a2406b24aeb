variable "region" {
  description = "Region of the state bucket (usually the region the environments run in)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "bucket_name" {
  description = "Globally unique state bucket name, e.g. hello-birthday-tfstate-ACCOUNT_ID."
  type        = string
}

variable "create_lock_table" {
  description = "Create a DynamoDB lock table too (only needed with Terraform < 1.10; newer versions lock with use_lockfile)."
  type        = bool
  default     = false
}
