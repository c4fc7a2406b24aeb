variable "name" {
  description = "Name of the ECR repository."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name))
    error_message = "name must be a valid ECR repository name (lowercase, digits, '.', '_', '-', '/')."
  }
}

variable "keep_image_count" {
  description = "How many of the most recent images to keep; older ones expire (rollbacks only ever need the last few)."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_image_count >= 5 && var.keep_image_count <= 1000
    error_message = "keep_image_count must be between 5 and 1000."
  }
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images (interrupted pushes, attestation leftovers) expire."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_expiry_days >= 1
    error_message = "untagged_expiry_days must be at least 1."
  }
}

variable "force_delete" {
  description = "Allow destroying the repository while it still holds images. Only for throw-away environments."
  type        = bool
  default     = false
}
