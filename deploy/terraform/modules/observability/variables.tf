variable "name" {
  description = "Prefix for alarm, topic and dashboard names, e.g. hello-birthday-staging."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name))
    error_message = "name must be 3-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name; selects deploy/monitoring/rules/ENVIRONMENT.rules.yml for the Prometheus workspace."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production (the environments deploy/monitoring/slos.yaml generates rules for)."
  }
}

variable "runbook_url" {
  description = "URL of docs/operations/runbook.md as people open it (e.g. on GitHub); each alarm links to its #anchor there."
  type        = string

  validation {
    condition     = can(regex("^https://.+/docs/operations/runbook\\.md$", var.runbook_url))
    error_message = "runbook_url must be an https URL ending in /docs/operations/runbook.md."
  }
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alert and ticket topics (each must confirm within 2 days, or SNS deletes the subscription: deploy/terraform/pending-subscriptions.sh lists those still pending); at least one, so that every alarm and Alertmanager route reaches a person. Chat or paging integrations subscribe to the topics outside Terraform."
  type        = list(string)

  validation {
    condition     = length(var.alarm_emails) > 0
    error_message = "alarm_emails must name at least one address: an alarm whose topic nobody subscribes to reaches no one."
  }
  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$", e))])
    error_message = "alarm_emails must be email addresses."
  }
}

variable "log_retention_days" {
  description = "Retention of the Prometheus workspace's log group, in days."
  type        = number
  default     = 30
}

variable "watched" {
  description = "What the alarms and the dashboard watch: the ALB and its target group (alb_arn_suffix, target_group_arn_suffix, their CloudWatch dimensions), the ECS cluster_name and service_name, and the DynamoDB table_name."
  type = object({
    alb_arn_suffix          = string
    target_group_arn_suffix = string
    cluster_name            = string
    service_name            = string
    table_name              = string
  })
}

variable "thresholds" {
  description = <<-EOT
    When the alarms fire. alb_5xx_rate_percent and target_5xx_rate_percent: the share of requests answered 5xx by the
    ALB itself and by the service; min_requests_per_minute: the traffic below which those rate alarms stay quiet (one
    error in three requests is noise, not an outage); p99_latency_seconds: the p99 target response time.
  EOT
  type = object({
    alb_5xx_rate_percent    = optional(number, 1)
    target_5xx_rate_percent = optional(number, 1)
    min_requests_per_minute = optional(number, 20)
    p99_latency_seconds     = optional(number, 0.5)
  })
  default = {}

  validation {
    condition     = var.thresholds.alb_5xx_rate_percent > 0 && var.thresholds.alb_5xx_rate_percent <= 100
    error_message = "thresholds.alb_5xx_rate_percent must be in (0, 100]."
  }
  validation {
    condition     = var.thresholds.target_5xx_rate_percent > 0 && var.thresholds.target_5xx_rate_percent <= 100
    error_message = "thresholds.target_5xx_rate_percent must be in (0, 100]."
  }
  validation {
    condition     = var.thresholds.min_requests_per_minute >= 0
    error_message = "thresholds.min_requests_per_minute must not be negative."
  }
  validation {
    condition     = var.thresholds.p99_latency_seconds > 0 && var.thresholds.p99_latency_seconds <= 60
    error_message = "thresholds.p99_latency_seconds must be in (0, 60]."
  }
}
