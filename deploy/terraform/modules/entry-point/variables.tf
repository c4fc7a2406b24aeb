variable "name" {
  description = "Name of the accelerator and prefix of its alarms, e.g. hello-birthday-production."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{0,40}$", var.name))
    error_message = "name must be 1-41 letters, digits or hyphens, starting with a letter or digit."
  }
}

variable "regions" {
  description = <<-EOT
    One entry per region that serves traffic, keyed by region name: the region's internet-facing ALB, and its
    traffic dial (percentage of the traffic that would go to the region by proximity; 0 drains it, the lever of the
    region failover runbook).
  EOT
  type = map(object({
    alb_arn                 = string
    traffic_dial_percentage = optional(number, 100)
  }))

  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) <= 10
    error_message = "regions must list between 1 and 10 regions."
  }
  validation {
    condition     = alltrue([for region in keys(var.regions) : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", region))])
    error_message = "regions must be keyed by AWS region names such as eu-west-1."
  }
  validation {
    condition = alltrue([
      for region, r in var.regions : can(regex("^arn:aws[a-z-]*:elasticloadbalancing:${region}:[0-9]{12}:loadbalancer/app/", r.alb_arn))
    ])
    error_message = "Each region's alb_arn must be an Application Load Balancer ARN in that region."
  }
  validation {
    condition     = alltrue([for r in values(var.regions) : r.traffic_dial_percentage >= 0 && r.traffic_dial_percentage <= 100])
    error_message = "traffic_dial_percentage must be between 0 and 100."
  }
  validation {
    condition     = anytrue([for r in values(var.regions) : r.traffic_dial_percentage > 0])
    error_message = "At least one region must take traffic: dialling every region to 0 is an outage, not a drain."
  }
}

variable "flow_logs" {
  description = "S3 bucket (and prefix) for the accelerator's flow logs; null turns them off."
  type = object({
    bucket = string
    prefix = optional(string, "global-accelerator/")
  })
  default = null
}

variable "alarm_topic_arns" {
  description = "SNS topics (in us-west-2, where Global Accelerator publishes its metrics) notified by the per-region alarms."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.alarm_topic_arns : can(regex("^arn:aws[a-z-]*:sns:us-west-2:[0-9]{12}:", arn))])
    error_message = "alarm_topic_arns must be SNS topic ARNs in us-west-2."
  }
}

variable "runbook_url" {
  description = "URL of docs/operations/runbook.md as people open it; the alarms link to its #region-out-of-rotation anchor."
  type        = string

  validation {
    condition     = can(regex("^https://.+/docs/operations/runbook\\.md$", var.runbook_url))
    error_message = "runbook_url must be an https URL ending in /docs/operations/runbook.md."
  }
}
