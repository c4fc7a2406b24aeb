variable "name" {
  description = "Prefix for every resource name, e.g. hello-birthday-staging (ALB and target group names allow 32 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,25}$", var.name))
    error_message = "name must be 3-26 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "network" {
  description = "Where the load balancer runs: vpc_id, the VPC of the load balancer and its targets; vpc_cidr_block, the VPC's range, the only place the ALB may open connections to (on the service port); public_subnet_ids, one per AZ, at least two."
  type = object({
    vpc_id            = string
    vpc_cidr_block    = string
    public_subnet_ids = list(string)
  })

  validation {
    condition     = length(var.network.public_subnet_ids) >= 2
    error_message = "network.public_subnet_ids: an ALB needs subnets in at least two availability zones."
  }
}

variable "load_balancer" {
  description = <<-EOT
    The ALB and its HTTPS listener (TLS 1.3 with TLS 1.2 fallback and forward-secret ciphers only).
    certificate_arn: the ACM certificate it serves. idle_timeout_seconds: how long it keeps an idle connection (client
    or target) open; the service's IDLE_TIMEOUT must be longer (modules/service checks it), or the ALB reuses connections
    the task is closing and answers 502. deletion_protection: refuse to delete the load balancer (on in production).
  EOT
  type = object({
    certificate_arn      = string
    deletion_protection  = bool
    idle_timeout_seconds = optional(number, 60)
  })

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$", var.load_balancer.certificate_arn))
    error_message = "load_balancer.certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)."
  }
  validation {
    condition     = var.load_balancer.idle_timeout_seconds >= 1 && var.load_balancer.idle_timeout_seconds <= 4000
    error_message = "load_balancer.idle_timeout_seconds must be between 1 and 4000 (ALB limits)."
  }
}

variable "target" {
  description = <<-EOT
    What the ALB forwards to (from deploy/service-contract.json). port: the service's port inside the task.
    health_check_path: what the target group polls, the readiness endpoint, which turns 503 while a task drains.
    health_check: how often and how many failures (or successes) make a target unhealthy (or healthy again); Global
    Accelerator routes by this target health, so it is also how fast a region fails over.
    public_path_patterns: the only paths forwarded; everything else, /metrics included, gets a fixed 404 at the ALB.
    deregistration_delay: seconds the ALB keeps draining a deregistered target, longer than the slowest request and
    much shorter than the 300 s default.
    readiness_host: optional; GET health_check_path on host is forwarded too, but only from source_cidrs (Route 53's
    health checkers: ip-ranges.json, service ROUTE53_HEALTHCHECKS), for the cross-cloud entry point's health check
    (docs/multi-cloud.md). The certificate must cover host. Null: no such rule.
  EOT
  type = object({
    port                 = number
    health_check_path    = string
    health_check         = object({ interval_seconds = number, timeout_seconds = number, healthy_threshold = number, unhealthy_threshold = number })
    public_path_patterns = list(string)
    deregistration_delay = optional(number, 15)
    readiness_host       = optional(object({ host = string, source_cidrs = list(string) }))
  })

  validation {
    condition     = var.target.port >= 1024 && var.target.port <= 65535
    error_message = "target.port must be an unprivileged port (1024-65535): the container runs as a non-root user."
  }
  validation {
    condition     = startswith(var.target.health_check_path, "/")
    error_message = "target.health_check_path must start with '/'."
  }
  validation {
    condition     = length(var.target.public_path_patterns) > 0 && alltrue([for p in var.target.public_path_patterns : startswith(p, "/") && p != "/*" && !startswith(p, "/metrics")])
    error_message = "target.public_path_patterns must be non-empty absolute patterns that neither match everything nor expose /metrics."
  }
  validation {
    condition     = var.target.deregistration_delay >= 5 && var.target.deregistration_delay <= 60
    error_message = "target.deregistration_delay must be between 5 and 60 seconds."
  }
  validation {
    condition     = var.target.readiness_host == null ? true : can(regex("^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$", var.target.readiness_host.host))
    error_message = "target.readiness_host.host must be a fully qualified lowercase host name such as health-aws.example.com."
  }
  validation {
    condition = var.target.readiness_host == null ? true : (
      length(var.target.readiness_host.source_cidrs) >= 1 && length(var.target.readiness_host.source_cidrs) <= 40
      && alltrue([for c in var.target.readiness_host.source_cidrs : can(cidrhost(c, 0)) && try(tonumber(split("/", c)[1]) >= 8, false)])
    )
    error_message = "target.readiness_host.source_cidrs must list 1 to 40 address ranges (CIDR, prefix /8 or longer): Route 53's health checker ranges, not the internet."
  }
}

variable "access_logs" {
  description = "The ALB's access logs in S3: retention_days; force_destroy lets destroy remove the bucket while it holds logs (only for throw-away environments)."
  type = object({
    retention_days = optional(number, 90)
    force_destroy  = optional(bool, false)
  })
  default = {}

  validation {
    condition     = var.access_logs.retention_days >= 1
    error_message = "access_logs.retention_days must be at least 1."
  }
}

variable "waf" {
  description = "The WAFv2 web ACL in front of the ALB: rate_limit, requests per 5 minutes one client IP may send before it is blocked; its log group's log_retention_days and log_kms_key_arn."
  type = object({
    log_kms_key_arn    = string
    rate_limit         = optional(number, 1000)
    log_retention_days = optional(number, 30)
  })

  validation {
    condition     = var.waf.rate_limit >= 100 && var.waf.rate_limit <= 2000000000
    error_message = "waf.rate_limit must be between 100 and 2e9 (WAFv2 limits)."
  }
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.waf.log_retention_days)
    error_message = "waf.log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}
