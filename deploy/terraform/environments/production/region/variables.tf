variable "region" {
  description = "The region this application of the regional root builds: one of the global root's regions (each has its own state, key hello-birthday/production/REGION/terraform.tfstate)."
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

variable "readiness_host" {
  description = "Optional: the health host (the global root's cross_cloud.aws_health_check_fqdn, which the certificate must cover) on which this region's ALB forwards GET of the readiness path to source_cidrs only: Route 53's health checker ranges (ip-ranges.json, service ROUTE53_HEALTHCHECKS). Null: no such route."
  type        = object({ host = string, source_cidrs = list(string) })
  default     = null
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

variable "vpc_cidr" {
  description = "IPv4 CIDR of this region's VPC; distinct per region (deploy/regions.json) so that the regions' VPCs could be peered."
  type        = string
  default     = "10.30.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "vpc_cidr must be an IPv4 CIDR block."
  }
}

variable "replication_threshold_seconds" {
  description = "Tolerated lag of this region's writes reaching each other region (ReplicationLatency), an upper bound of the recovery point."
  type        = number
  default     = 30

  validation {
    condition     = var.replication_threshold_seconds >= 1
    error_message = "replication_threshold_seconds must be at least 1."
  }
}
