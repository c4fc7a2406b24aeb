variable "name" {
  description = "Name of the ECR repository."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name))
    error_message = "name must be a valid ECR repository name (lowercase, digits, '.', '_', '-', '/')."
  }
}

variable "keep_build_count" {
  description = "How many of the most recent builds (commit indexes, each with all its platform images and attestations) to keep for rollbacks; older builds expire."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_build_count >= 5 && var.keep_build_count <= 1000
    error_message = "keep_build_count must be between 5 and 1000."
  }
}

variable "build_tag_prefix" {
  description = "Prefix of the tag the image workflow gives each build's index (.github/workflows/image.yml tags commit-<SHA>)."
  type        = string
  default     = "commit-"
}

variable "untagged_expiry_days" {
  description = "Days after which untagged manifests that no kept index references (interrupted pushes, per-platform indexes, the children of expired builds) expire."
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
