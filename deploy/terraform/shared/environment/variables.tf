# Shared by every environment root (environments/*/variables.tf link here), so the roots cannot drift apart.

variable "region" {
  description = "AWS region of the environment."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "allowed_account_ids" {
  description = "Accounts this root may touch; a guard against applying with the wrong credentials. Empty: no check."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "allowed_account_ids must be 12-digit AWS account ids."
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
  description = "ADOT collector image by digest (public.ecr.aws/aws-observability/aws-otel-collector@sha256:...): the tasks' metrics sidecar."
  type        = string
}

variable "enable_prometheus_alertmanager" {
  description = "Emulator switch for the Prometheus workspace's Alertmanager definition; only the moto smoke test sets false."
  type        = bool
  default     = true
}

variable "github_repository" {
  description = "GitHub repository (OWNER/NAME) allowed to deploy through OIDC."
  type        = string
}

variable "terraform_state_bucket" {
  description = "State bucket of this root (bootstrap output bucket_name); the Terraform plan role may read this environment's state in it."
  type        = string
}

variable "terraform_state_kms_key_arn" {
  description = "KMS key of the state bucket (bootstrap output kms_key_arn)."
  type        = string
}

variable "alarm_emails" {
  description = "Email addresses subscribed to the alert topic."
  type        = list(string)
  default     = []
}

variable "enable_autoscaling" {
  description = "Emulator switch: create the autoscaling target and policies. Always true in AWS; the moto smoke test sets it false (see README)."
  type        = bool
  default     = true
}
