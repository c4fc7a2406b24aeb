variable "name" {
  description = "Name of the ECS cluster, service, task definition family and IAM roles, e.g. hello-birthday-staging."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name))
    error_message = "name must be 3-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "container" {
  description = <<-EOT
    The service's container. image: pinned by digest, REPOSITORY@sha256:<64 hex> (tags are rejected, so a rollback
    redeploys exactly the same bits). repository_arn: the ECR repository the execution role may pull from. port and
    liveness_path: from deploy/service-contract.json; the port is unprivileged because the container runs as user,
    a numeric non-root UID[:GID]. name: the container's name in the task definition (the deploy workflow replaces its
    image).
  EOT
  type = object({
    image          = string
    repository_arn = string
    port           = number
    liveness_path  = string
    name           = optional(string, "app")
    user           = optional(string, "65532:65532")
  })

  validation {
    condition     = can(regex("^[^@[:space:]]+@sha256:[0-9a-f]{64}$", var.container.image))
    error_message = "container.image must be pinned by digest: REPOSITORY@sha256:<64 lowercase hex digits>."
  }
  validation {
    condition     = var.container.port >= 1024 && var.container.port <= 65535
    error_message = "container.port must be an unprivileged port (1024-65535): the container runs as a non-root user."
  }
  validation {
    condition     = startswith(var.container.liveness_path, "/")
    error_message = "container.liveness_path must start with '/'."
  }
  validation {
    condition     = can(regex("^[0-9]+(:[0-9]+)?$", var.container.user)) && split(":", var.container.user)[0] != "0"
    error_message = "container.user must be a numeric, non-root UID[:GID] (not 0)."
  }
}

variable "task" {
  description = "Fargate task size: cpu units (256 = 0.25 vCPU), memory in MiB (a valid Fargate combination with cpu), and the cpu_architecture of the tasks, which the image must contain."
  type = object({
    cpu              = optional(number, 256)
    memory           = optional(number, 512)
    cpu_architecture = optional(string, "ARM64")
  })
  default = {}

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.task.cpu)
    error_message = "task.cpu must be one of the Fargate sizes 256, 512, 1024, 2048, 4096."
  }
  validation {
    condition     = var.task.memory >= 512 && var.task.memory <= 30720 && var.task.memory % 512 == 0
    error_message = "task.memory must be a multiple of 512 between 512 and 30720 MiB."
  }
  validation {
    condition     = contains(["ARM64", "X86_64"], var.task.cpu_architecture)
    error_message = "task.cpu_architecture must be ARM64 or X86_64."
  }
}

variable "autoscaling" {
  description = <<-EOT
    How many tasks run. min_capacity: the fewest autoscaling leaves, at least 2 so one AZ can fail (also the first
    desired count); max_capacity: the most it may start. Two target-tracking policies: cpu_target_percent, the average
    CPU utilisation to keep; requests_per_target, ALB requests per minute per task (30000 = 500/s, 60 % of a 0.25 vCPU
    task's planning capacity, docs/operations/capacity-and-cost.md).
  EOT
  type = object({
    min_capacity        = number
    max_capacity        = number
    cpu_target_percent  = optional(number, 60)
    requests_per_target = optional(number, 30000)
  })

  validation {
    condition     = var.autoscaling.min_capacity >= 2
    error_message = "autoscaling.min_capacity must be at least 2 (one task per AZ survives an AZ outage)."
  }
  validation {
    condition     = var.autoscaling.max_capacity >= 2 && var.autoscaling.max_capacity <= 100
    error_message = "autoscaling.max_capacity must be between 2 and 100."
  }
  validation {
    condition     = var.autoscaling.cpu_target_percent >= 10 && var.autoscaling.cpu_target_percent <= 90
    error_message = "autoscaling.cpu_target_percent must be between 10 and 90."
  }
  validation {
    condition     = var.autoscaling.requests_per_target >= 10
    error_message = "autoscaling.requests_per_target must be at least 10."
  }
}

variable "timeouts" {
  description = <<-EOT
    Shutdown and connection timeouts, in seconds. drain_delay_seconds (DRAIN_DELAY): how long the service keeps serving,
    /readyz at 503, after SIGTERM; shutdown_grace_seconds (SHUTDOWN_GRACE): how long it then lets in-flight requests
    finish; stop_timeout_seconds: how long ECS waits after SIGTERM before SIGKILL, which must exceed both plus 5 s, the
    service's fixed shutdown bound (Fargate max 120). health_check_grace_seconds: how long after a task starts failing
    ALB health checks do not kill it. idle_timeout_seconds (IDLE_TIMEOUT): how long the service keeps an idle
    keep-alive connection; null means the ALB's idle timeout + 15, and it must exceed the ALB's.
    header_read_timeout_seconds (HEADER_READ_TIMEOUT): how long a client has, from a request's first byte, to send its
    headers (and a new connection to send its first byte).
  EOT
  type = object({
    drain_delay_seconds         = optional(number, 0)
    shutdown_grace_seconds      = optional(number, 20)
    stop_timeout_seconds        = optional(number, 30)
    health_check_grace_seconds  = optional(number, 30)
    idle_timeout_seconds        = optional(number)
    header_read_timeout_seconds = optional(number, 5)
  })
  default = {}

  validation {
    condition     = var.timeouts.drain_delay_seconds >= 0 && var.timeouts.drain_delay_seconds <= 30
    error_message = "timeouts.drain_delay_seconds must be between 0 and 30."
  }
  validation {
    condition     = var.timeouts.shutdown_grace_seconds >= 1 && var.timeouts.shutdown_grace_seconds <= 100
    error_message = "timeouts.shutdown_grace_seconds must be between 1 and 100."
  }
  validation {
    condition     = var.timeouts.stop_timeout_seconds >= 2 && var.timeouts.stop_timeout_seconds <= 120
    error_message = "timeouts.stop_timeout_seconds must be between 2 and 120 seconds (Fargate limit)."
  }
  validation {
    condition     = var.timeouts.health_check_grace_seconds >= 0 && var.timeouts.health_check_grace_seconds <= 300
    error_message = "timeouts.health_check_grace_seconds must be between 0 and 300 seconds."
  }
  validation {
    condition     = var.timeouts.header_read_timeout_seconds >= 1 && var.timeouts.header_read_timeout_seconds <= 60
    error_message = "timeouts.header_read_timeout_seconds must be between 1 and 60."
  }
}

variable "network" {
  description = "Where the tasks run: vpc_id, and private_subnet_ids, one per AZ (at least two; ECS spreads the tasks across them)."
  type = object({
    vpc_id             = string
    private_subnet_ids = list(string)
  })

  validation {
    condition     = length(var.network.private_subnet_ids) >= 2
    error_message = "network.private_subnet_ids must hold at least two private subnets in different AZs."
  }
}

variable "load_balancer" {
  description = <<-EOT
    The ALB in front of the tasks (modules/edge outputs): security_group_id, the only source allowed to reach the
    tasks; target_group_arn, where the service registers them; arn_suffix and target_group_arn_suffix, the dimensions
    of the request-count scaling metric; idle_timeout_seconds, the ALB's idle timeout, which the service's must exceed.
  EOT
  type = object({
    security_group_id       = string
    target_group_arn        = string
    arn_suffix              = string
    target_group_arn_suffix = string
    idle_timeout_seconds    = number
  })
}

variable "table" {
  description = "The DynamoDB table the service stores users in: its name, and its arn, the only resource the task role may touch."
  type = object({
    name = string
    arn  = string
  })
}

variable "observability" {
  description = <<-EOT
    Logs and alarms of the service. log_kms_key_arn encrypts the application log group, kept log_retention_days.
    deployment_alarm_names: CloudWatch alarms that, when they fire during a deployment, make ECS roll it back.
  EOT
  type = object({
    log_kms_key_arn        = string
    log_retention_days     = optional(number, 30)
    deployment_alarm_names = optional(list(string), [])
  })

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.observability.log_retention_days)
    error_message = "observability.log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "collector" {
  description = <<-EOT
    The ADOT metrics collector beside the service in every task. image: pinned by digest (e.g.
    public.ecr.aws/aws-observability/aws-otel-collector@sha256:...; tags are rejected). config:
    deploy/monitoring/adot-collector.yaml, passed in AOT_CONFIG_CONTENT. workspace_arn and remote_write_url: the
    Prometheus workspace it writes to, the only one the task role may write to. container_name, user (the ADOT image's
    own non-root UID:GID) and memory (its hard limit in MiB; the rest of the task's memory is the service's).
  EOT
  type = object({
    image            = string
    config           = string
    workspace_arn    = string
    remote_write_url = string
    container_name   = optional(string, "metrics-collector")
    user             = optional(string, "10001:10001")
    memory           = optional(number, 128)
  })

  validation {
    condition     = can(regex("^[^@[:space:]]+@sha256:[0-9a-f]{64}$", var.collector.image))
    error_message = "collector.image must be pinned by digest: REPOSITORY@sha256:<64 lowercase hex digits>."
  }
  validation {
    condition     = strcontains(var.collector.config, "prometheusremotewrite") && strcontains(var.collector.config, "$${env:AMP_REMOTE_WRITE_URL}")
    error_message = "collector.config must remote-write to $${env:AMP_REMOTE_WRITE_URL}, which this module sets."
  }
  validation {
    condition     = can(regex("^https://.+/api/v1/remote_write$", var.collector.remote_write_url))
    error_message = "collector.remote_write_url must be an https URL ending in /api/v1/remote_write."
  }
  validation {
    condition     = can(regex("^[0-9]+(:[0-9]+)?$", var.collector.user)) && split(":", var.collector.user)[0] != "0"
    error_message = "collector.user must be a numeric, non-root UID[:GID] (not 0)."
  }
  validation {
    condition     = var.collector.memory >= 64 && var.collector.memory <= 256
    error_message = "collector.memory must be between 64 and 256 MiB."
  }
}
