variable "app_name" {
  description = "Application name; every resource is named APP_NAME-ENVIRONMENT."
  type        = string
  default     = "hello-birthday"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,14}$", var.app_name))
    error_message = "app_name must be 3-15 lowercase letters, digits or hyphens (ALB names are limited to 32 characters)."
  }
}

variable "environment" {
  description = "Environment name."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the environment's VPC."
  type        = string
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per AZ (production) or a single shared one (staging, cheaper, loses egress if its AZ fails)."
  type        = bool
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener (same region as the stack)."
  type        = string
}

variable "image_digest" {
  description = "Digest of the image to run, sha256:<64 hex>, as recorded by the CI image workflow. Tags are not accepted. Never null: only the registry-first step of a first deployment, which does not build the service, leaves it unset."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^sha256:[0-9a-f]{64}$", var.image_digest))
    error_message = "image_digest must be an image digest: sha256: followed by 64 lowercase hex digits (not a tag)."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the tasks (ARM64 is cheaper per vCPU on Fargate)."
  type        = string
  default     = "ARM64"
}

variable "task_cpu" {
  description = "Task CPU units."
  type        = number
  default     = 256
}

variable "task_memory" {
  description = "Task memory in MiB."
  type        = number
  default     = 512
}

variable "min_capacity" {
  description = "Fewest tasks autoscaling keeps running."
  type        = number
}

variable "max_capacity" {
  description = "Most tasks autoscaling may run."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of the application, flow and WAF log groups."
  type        = number
  default     = 30
}

variable "deletion_protection" {
  description = "Protect the DynamoDB table and the ALB from deletion. On in production."
  type        = bool
}

variable "force_destroy" {
  description = "Let destroy remove a non-empty ECR repository and log bucket. Only for throw-away environments."
  type        = bool
  default     = false
}

variable "github_repository" {
  description = "GitHub repository (OWNER/NAME) whose Actions may deploy this environment; also where alarm runbook links point."
  type        = string
}

variable "github_deploy_subjects" {
  description = "OIDC subjects (after repo:OWNER/NAME:) allowed to assume the deploy role; defaults to the GitHub environment of the same name, plus the main branch (the image workflow) where images are pushed rather than promoted."
  type        = list(string)
  default     = null
}

variable "image_source_repository_arn" {
  description = "ECR repository this environment's deploy job copies images from before rolling them out (production: staging's ecr_repository_arn). null: the image workflow pushes to this environment's repository."
  type        = string
  default     = null
}

variable "terraform_state_bucket" {
  description = "State bucket (bootstrap output bucket_name); the Terraform plan role may read this environment's state in it."
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


variable "waf_rate_limit" {
  description = "Requests per 5 minutes per client IP before WAF blocks it."
  type        = number
  default     = 1000
}


variable "collector_image" {
  description = "ADOT collector image pinned by digest (REPOSITORY@sha256:...), the metrics sidecar of every task."
  type        = string
}


variable "multi_region" {
  description = <<-EOT
    This stack is one region of a multi-region environment (environments/production/region, applied once per region).
    The table is then not created here: the global root (environments/production/global) owns the global table and
    its replicas, and this stack makes the KMS key of its region's replica (output table_kms_key_arn), scopes the task
    role to the replica in its own region, and puts the region into every account-wide or alarm name.
  EOT
  type        = bool
  default     = false
}
