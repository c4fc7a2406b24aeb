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

# On its own, not in an object: it is the one input that changes with every release, and the registry-first step of a
# first deployment leaves it unset (null) while it applies the registry and CI roles only (-target), which never read it.
variable "image_digest" {
  description = "Digest of the image to run, sha256:<64 hex>, as recorded by the CI image workflow. Tags are not accepted. Never null: only the registry-first step of a first deployment, which does not build the service, leaves it unset."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^sha256:[0-9a-f]{64}$", var.image_digest))
    error_message = "image_digest must be an image digest: sha256: followed by 64 lowercase hex digits (not a tag)."
  }
}

variable "image_source_repository_arn" {
  description = "ECR repository this environment's deploy job copies images from before rolling them out (production: staging's ecr_repository_arn). null: the image workflow pushes to this environment's repository."
  type        = string
  default     = null
}

variable "ci" {
  description = <<-EOT
    The roots' ci input, passed whole. github_repository (OWNER/NAME): whose Actions may deploy this environment, and
    where alarm runbook links point. terraform_state: the state bucket and its KMS key (bootstrap outputs bucket_name,
    kms_key_arn), where the Terraform plan role may read this environment's state. deploy_subjects: OIDC subjects
    (after repo:OWNER/NAME:) allowed to assume the deploy role; null means the GitHub environment of this stack, plus
    the main branch (the image workflow) where images are pushed rather than promoted. Other attributes of the roots'
    object (allowed_account_ids, the provider's guard) are not used here.
  EOT
  type = object({
    github_repository = string
    terraform_state   = object({ bucket = string, kms_key_arn = string })
    deploy_subjects   = optional(list(string))
  })
}

variable "network" {
  description = "The environment's VPC: vpc_cidr, its IPv4 range; nat_gateway_per_az, one NAT gateway per AZ (production) or a single shared one (staging: cheaper, loses egress if its AZ fails)."
  type = object({
    vpc_cidr           = string
    nat_gateway_per_az = bool
  })
}

variable "load_balancer" {
  description = "The ALB: certificate_arn, the ACM certificate of its HTTPS listener (same region as the stack); waf_rate_limit, requests per 5 minutes per client IP before its WAF blocks the client; readiness_host (optional), the health host on which the readiness path is forwarded to Route 53's health checker ranges only (modules/edge, target.readiness_host)."
  type = object({
    certificate_arn = string
    waf_rate_limit  = optional(number, 1000)
    readiness_host  = optional(object({ host = string, source_cidrs = list(string) }))
  })
}

variable "service" {
  description = <<-EOT
    The ECS service: min_capacity and max_capacity, the tasks autoscaling keeps running; cpu (units) and memory (MiB)
    of each task and its cpu_architecture (ARM64 is cheaper per vCPU on Fargate); collector_image, the ADOT collector
    image pinned by digest (REPOSITORY@sha256:...), the metrics sidecar of every task (null: the release pinned here).
  EOT
  type = object({
    min_capacity = number
    max_capacity = number
    # ADOT collector v0.43.3, the multi-architecture index (ARM64 and x86_64 tasks pull the same reference), from
    # the public ECR gallery that the tasks reach through their NAT gateways: a fresh account needs no mirror and no
    # variable. A new release is a reviewed change that staging applies first; its digest:
    # `crane digest public.ecr.aws/aws-observability/aws-otel-collector:vX.Y.Z`.
    collector_image  = optional(string, "public.ecr.aws/aws-observability/aws-otel-collector@sha256:8aa9ea5f67b8d318f7d6af24677e3c70f7098bc0631147cb5fa91addbe980b06")
    cpu              = optional(number, 256)
    memory           = optional(number, 512)
    cpu_architecture = optional(string, "ARM64")
  })

  validation {
    condition     = can(regex("@sha256:[0-9a-f]{64}$", var.service.collector_image))
    error_message = "service.collector_image must be pinned by digest (REPOSITORY@sha256:...), never by a tag."
  }
}

variable "observability" {
  description = "alarm_emails: addresses subscribed to the alert topic (each must confirm); log_retention_days: retention of the application, flow, WAF and Prometheus log groups."
  type = object({
    alarm_emails       = optional(list(string), [])
    log_retention_days = optional(number, 30)
  })
  default = {}
}

variable "protection" {
  description = "deletion_protection: protect the DynamoDB table and the ALB from deletion (on in production); force_destroy: let destroy remove a non-empty ECR repository and access log bucket (only for throw-away environments)."
  type = object({
    deletion_protection = bool
    force_destroy       = optional(bool, false)
  })
}
