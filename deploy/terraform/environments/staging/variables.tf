variable "region" {
  description = "AWS region of staging."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for the service's domain, in the same region."
  type        = string
}

variable "image_digest" {
  description = "Image digest to deploy (sha256:...), recorded by the CI image workflow. Left unset only by the registry-first step of a first deployment (deploy/terraform/first-deployment.sh registry), which does not build the service."
  type        = string
  default     = null
}

variable "collector_image" {
  description = "ADOT collector image by digest (REPOSITORY@sha256:...), the tasks' metrics sidecar; null: the release modules/stack pins (the pipeline passes none)."
  type        = string
  default     = null
}

variable "ci" {
  description = "GitHub repository (OWNER/NAME) that deploys through OIDC, this root's state (bootstrap outputs bucket_name, kms_key_arn) its Terraform plan role may read, and the accounts this root may touch (empty: no check)."
  type = object({
    github_repository   = string
    terraform_state     = object({ bucket = string, kms_key_arn = string })
    allowed_account_ids = optional(list(string), [])
  })
}

variable "alarm_emails" {
  description = "Email addresses subscribed to the alert topic."
  type        = list(string)
  default     = []
}
