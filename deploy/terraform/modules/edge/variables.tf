variable "name" {
  description = "Prefix for every resource name, e.g. hello-birthday-staging (ALB and target group names allow 32 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,25}$", var.name))
    error_message = "name must be 3-26 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "vpc_id" {
  description = "VPC of the load balancer and its targets."
  type        = string
}

variable "vpc_cidr_block" {
  description = "CIDR of the VPC; the ALB may only open connections to the service port inside it."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets for the load balancer, one per AZ."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An ALB needs subnets in at least two availability zones."
  }
}

variable "certificate_arn" {
  description = "ACM certificate served by the HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener: TLS 1.3 with TLS 1.2 fallback and forward-secret ciphers only."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = can(regex("^ELBSecurityPolicy-TLS13-", var.ssl_policy))
    error_message = "ssl_policy must be one of the ELBSecurityPolicy-TLS13-* policies."
  }
}

variable "container_port" {
  description = "Port the service listens on inside the task (from deploy/service-contract.json)."
  type        = number

  validation {
    condition     = var.container_port >= 1024 && var.container_port <= 65535
    error_message = "container_port must be an unprivileged port (1024-65535): the container runs as a non-root user."
  }
}

variable "health_check_path" {
  description = "Path the target group polls; the service's readiness endpoint, which turns 503 while the task drains."
  type        = string

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with '/'."
  }
}

variable "public_path_patterns" {
  description = "Path patterns forwarded to the service. Everything else, including /metrics, gets a fixed 404 at the ALB."
  type        = list(string)

  validation {
    condition     = length(var.public_path_patterns) > 0 && alltrue([for p in var.public_path_patterns : startswith(p, "/") && p != "/*" && !startswith(p, "/metrics")])
    error_message = "public_path_patterns must be non-empty absolute patterns that neither match everything nor expose /metrics."
  }
}

variable "deregistration_delay" {
  description = "Seconds the ALB keeps draining a deregistered target; longer than the slowest request, much shorter than the 300s default."
  type        = number
  default     = 15

  validation {
    condition     = var.deregistration_delay >= 5 && var.deregistration_delay <= 60
    error_message = "deregistration_delay must be between 5 and 60 seconds."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer while true. Keep it on in production."
  type        = bool
}

variable "access_log_retention_days" {
  description = "Days ALB access logs are kept in S3."
  type        = number
  default     = 90

  validation {
    condition     = var.access_log_retention_days >= 1
    error_message = "access_log_retention_days must be at least 1."
  }
}

variable "force_destroy_logs" {
  description = "Allow destroying the access log bucket while it holds logs. Only for throw-away environments."
  type        = bool
  default     = false
}


variable "waf_rate_limit" {
  description = "Requests per 5 minutes one client IP may send before WAF blocks it."
  type        = number
  default     = 1000

  validation {
    condition     = var.waf_rate_limit >= 100 && var.waf_rate_limit <= 2000000000
    error_message = "waf_rate_limit must be between 100 and 2e9 (WAFv2 limits)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key that encrypts the WAF log group."
  type        = string
}

variable "waf_log_retention_days" {
  description = "Retention of the WAF log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.waf_log_retention_days)
    error_message = "waf_log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "idle_timeout_seconds" {
  description = "ALB idle timeout: how long it keeps an idle connection (client or target) open. The service's IDLE_TIMEOUT must be longer (modules/service checks it), or the ALB reuses connections the task is closing and answers 502."
  type        = number
  default     = 60

  validation {
    condition     = var.idle_timeout_seconds >= 1 && var.idle_timeout_seconds <= 4000
    error_message = "idle_timeout_seconds must be between 1 and 4000 (ALB limits)."
  }
}
