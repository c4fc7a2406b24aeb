variable "name" {
  description = "Name of the ECS cluster, service, task definition family and IAM roles, e.g. hello-birthday-staging."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name))
    error_message = "name must be 3-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "image" {
  description = "Container image pinned by digest: REPOSITORY@sha256:<64 hex>. Tags are rejected so a rollback redeploys exactly the same bits."
  type        = string

  validation {
    condition     = can(regex("^[^@[:space:]]+@sha256:[0-9a-f]{64}$", var.image))
    error_message = "image must be pinned by digest: REPOSITORY@sha256:<64 lowercase hex digits>."
  }
}

variable "repository_arn" {
  description = "ECR repository the execution role may pull from."
  type        = string
}

variable "cpu_architecture" {
  description = "CPU architecture of the Fargate tasks; the image must contain this platform."
  type        = string
  default     = "ARM64"

  validation {
    condition     = contains(["ARM64", "X86_64"], var.cpu_architecture)
    error_message = "cpu_architecture must be ARM64 or X86_64."
  }
}

variable "cpu" {
  description = "Task CPU units (256 = 0.25 vCPU)."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.cpu)
    error_message = "cpu must be one of the Fargate sizes 256, 512, 1024, 2048, 4096."
  }
}

variable "memory" {
  description = "Task memory in MiB; must be a valid Fargate combination with cpu."
  type        = number
  default     = 512

  validation {
    condition     = var.memory >= 512 && var.memory <= 30720 && var.memory % 512 == 0
    error_message = "memory must be a multiple of 512 between 512 and 30720 MiB."
  }
}

variable "container_name" {
  description = "Name of the container in the task definition (the deploy workflow replaces its image)."
  type        = string
  default     = "app"
}

variable "container_port" {
  description = "Port the service listens on (from deploy/service-contract.json)."
  type        = number

  validation {
    condition     = var.container_port >= 1024 && var.container_port <= 65535
    error_message = "container_port must be an unprivileged port (1024-65535): the container runs as a non-root user."
  }
}

variable "liveness_path" {
  description = "Liveness path the container health check probes (from deploy/service-contract.json)."
  type        = string

  validation {
    condition     = startswith(var.liveness_path, "/")
    error_message = "liveness_path must start with '/'."
  }
}

variable "container_user" {
  description = "UID:GID the container runs as. Must not be root."
  type        = string
  default     = "65532:65532"

  validation {
    condition     = can(regex("^[0-9]+(:[0-9]+)?$", var.container_user)) && split(":", var.container_user)[0] != "0"
    error_message = "container_user must be a numeric, non-root UID[:GID] (not 0)."
  }
}

variable "shutdown_grace_seconds" {
  description = "SHUTDOWN_GRACE given to the service: how long it lets in-flight requests finish after SIGTERM."
  type        = number
  default     = 20

  validation {
    condition     = var.shutdown_grace_seconds >= 1 && var.shutdown_grace_seconds <= 100
    error_message = "shutdown_grace_seconds must be between 1 and 100."
  }
}

variable "drain_delay_seconds" {
  description = "DRAIN_DELAY given to the service: how long it keeps serving (with /readyz at 503) after SIGTERM."
  type        = number
  default     = 0

  validation {
    condition     = var.drain_delay_seconds >= 0 && var.drain_delay_seconds <= 30
    error_message = "drain_delay_seconds must be between 0 and 30."
  }
}

variable "stop_timeout" {
  description = "Seconds ECS waits after SIGTERM before SIGKILL; must exceed drain delay + shutdown grace + 5 s, the service's fixed shutdown bound (Fargate max 120)."
  type        = number
  default     = 30

  validation {
    condition     = var.stop_timeout >= 2 && var.stop_timeout <= 120
    error_message = "stop_timeout must be between 2 and 120 seconds (Fargate limit)."
  }
}

variable "health_check_grace_period" {
  description = "Seconds after a task starts during which failing ALB health checks do not kill it."
  type        = number
  default     = 30

  validation {
    condition     = var.health_check_grace_period >= 0 && var.health_check_grace_period <= 300
    error_message = "health_check_grace_period must be between 0 and 300 seconds."
  }
}

variable "min_capacity" {
  description = "Fewest tasks autoscaling may leave running; at least 2 so one AZ can fail."
  type        = number

  validation {
    condition     = var.min_capacity >= 2
    error_message = "min_capacity must be at least 2 (one task per AZ survives an AZ outage)."
  }
}

variable "max_capacity" {
  description = "Most tasks autoscaling may start."
  type        = number

  validation {
    condition     = var.max_capacity >= 2 && var.max_capacity <= 100
    error_message = "max_capacity must be between 2 and 100."
  }
}

variable "cpu_target_percent" {
  description = "Average CPU utilisation the CPU scaling policy keeps the service at."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "cpu_target_percent must be between 10 and 90."
  }
}

variable "requests_per_target" {
  description = "ALB requests per minute per task the request-count scaling policy aims for: 500/s, 60 % of a 0.25 vCPU task's planning capacity (docs/operations/capacity-and-cost.md)."
  type        = number
  default     = 30000

  validation {
    condition     = var.requests_per_target >= 10
    error_message = "requests_per_target must be at least 10."
  }
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets the tasks run in, one per AZ; ECS spreads tasks across them."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "Give at least two private subnets in different AZs."
  }
}

variable "alb_security_group_id" {
  description = "Security group of the ALB; the only source allowed to reach the tasks."
  type        = string
}

variable "target_group_arn" {
  description = "Target group the service registers its tasks in."
  type        = string
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB, for the request-count scaling metric."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the target group, for the request-count scaling metric."
  type        = string
}

variable "table_name" {
  description = "DynamoDB table the service stores users in."
  type        = string
}

variable "table_arn" {
  description = "ARN of that table; the task role may touch nothing else."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the application log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key that encrypts the application log group."
  type        = string
}

variable "deployment_alarm_names" {
  description = "CloudWatch alarms that, when they fire during a deployment, make ECS roll it back."
  type        = list(string)
  default     = []
}

variable "container_insights" {
  description = "Turn on CloudWatch Container Insights (the running-tasks alarm reads its metrics)."
  type        = bool
  default     = true
}


variable "alb_idle_timeout_seconds" {
  description = "The ALB's idle timeout (modules/edge output idle_timeout_seconds); the service's idle timeout is derived from it and must exceed it."
  type        = number
}

variable "idle_timeout_seconds" {
  description = "IDLE_TIMEOUT given to the service: how long it keeps an idle keep-alive connection open. Null means alb_idle_timeout_seconds + 15; must exceed alb_idle_timeout_seconds."
  type        = number
  default     = null
}

variable "header_read_timeout_seconds" {
  description = "HEADER_READ_TIMEOUT given to the service: how long a client has, from a request's first byte, to send its headers (and a new connection to send its first byte)."
  type        = number
  default     = 5

  validation {
    condition     = var.header_read_timeout_seconds >= 1 && var.header_read_timeout_seconds <= 60
    error_message = "header_read_timeout_seconds must be between 1 and 60."
  }
}

variable "collector_image" {
  description = "ADOT collector image pinned by digest (e.g. public.ecr.aws/aws-observability/aws-otel-collector@sha256:...). Tags are rejected."
  type        = string

  validation {
    condition     = can(regex("^[^@[:space:]]+@sha256:[0-9a-f]{64}$", var.collector_image))
    error_message = "collector_image must be pinned by digest: REPOSITORY@sha256:<64 lowercase hex digits>."
  }
}

variable "collector_config" {
  description = "The collector's configuration (deploy/monitoring/adot-collector.yaml), passed in AOT_CONFIG_CONTENT."
  type        = string

  validation {
    condition     = strcontains(var.collector_config, "prometheusremotewrite") && strcontains(var.collector_config, "$${env:AMP_REMOTE_WRITE_URL}")
    error_message = "collector_config must remote-write to $${env:AMP_REMOTE_WRITE_URL}, which this module sets."
  }
}

variable "collector_container_name" {
  description = "Name of the collector sidecar in the task definition."
  type        = string
  default     = "metrics-collector"
}

variable "collector_user" {
  description = "UID:GID the collector runs as (the ADOT image's own non-root user). Must not be root."
  type        = string
  default     = "10001:10001"

  validation {
    condition     = can(regex("^[0-9]+(:[0-9]+)?$", var.collector_user)) && split(":", var.collector_user)[0] != "0"
    error_message = "collector_user must be a numeric, non-root UID[:GID] (not 0)."
  }
}

variable "collector_memory" {
  description = "Hard memory limit of the collector container in MiB; the rest of the task's memory is the service's."
  type        = number
  default     = 128

  validation {
    condition     = var.collector_memory >= 64 && var.collector_memory <= 256
    error_message = "collector_memory must be between 64 and 256 MiB."
  }
}

variable "prometheus_workspace_arn" {
  description = "Prometheus workspace the collector writes to; the task role may write to this one only."
  type        = string
}

variable "prometheus_remote_write_url" {
  description = "Remote-write endpoint of that workspace."
  type        = string

  validation {
    condition     = can(regex("^https://.+/api/v1/remote_write$", var.prometheus_remote_write_url))
    error_message = "prometheus_remote_write_url must be an https URL ending in /api/v1/remote_write."
  }
}
