variable "name" {
  description = "Prefix of the health checks' and alarms' names, e.g. hello-birthday-production."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name))
    error_message = "name must be 3-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "record" {
  description = <<-EOT
    The service's name, answered by two failover records: zone_id, the Route 53 hosted zone; name, the host name
    clients use (e.g. hello.example.com); ttl, seconds resolvers may cache the standby's address (the AWS side is an
    alias, whose TTL is the accelerator's): every second of it adds to the failover time.
  EOT
  type = object({
    zone_id = string
    name    = string
    ttl     = optional(number, 60)
  })

  validation {
    condition     = can(regex("^Z[A-Z0-9]{1,31}$", var.record.zone_id))
    error_message = "record.zone_id must be a Route 53 hosted zone ID (Z followed by letters and digits)."
  }
  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$", var.record.name))
    error_message = "record.name must be a fully qualified lowercase host name such as hello.example.com."
  }
  validation {
    condition     = var.record.ttl >= 10 && var.record.ttl <= 300
    error_message = "record.ttl must be between 10 and 300 seconds: longer makes failover wait on caches."
  }
}

variable "aws" {
  description = <<-EOT
    The AWS side (ECS and DynamoDB behind Global Accelerator): accelerator_dns_name, the accelerator's DNS name
    (module entry-point's output), answered as an alias; health_check_fqdn, the host name on which the health
    checkers request the readiness path (routed to /readyz for Route 53's checkers only).
  EOT
  type = object({
    accelerator_dns_name = string
    health_check_fqdn    = string
  })

  validation {
    condition     = can(regex("^[a-z0-9]+\\.awsglobalaccelerator\\.com$", var.aws.accelerator_dns_name))
    error_message = "aws.accelerator_dns_name must be a Global Accelerator DNS name (NAME.awsglobalaccelerator.com)."
  }
  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$", var.aws.health_check_fqdn))
    error_message = "aws.health_check_fqdn must be a fully qualified lowercase host name."
  }
}

variable "standby" {
  description = <<-EOT
    The Kubernetes side on another cloud (the Helm chart behind the cluster's ingress): ipv4_addresses, its
    load balancer's public addresses; health_check_fqdn, the host name on which the health checkers request the
    readiness path.
  EOT
  type = object({
    ipv4_addresses    = list(string)
    health_check_fqdn = string
  })

  validation {
    condition     = length(var.standby.ipv4_addresses) >= 1 && alltrue([for a in var.standby.ipv4_addresses : can(cidrhost("${a}/32", 0))])
    error_message = "standby.ipv4_addresses must list at least one IPv4 address."
  }
  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$", var.standby.health_check_fqdn))
    error_message = "standby.health_check_fqdn must be a fully qualified lowercase host name."
  }
}

variable "writer" {
  description = <<-EOT
    Which side takes the writes, and so answers as the PRIMARY record: aws (normal) or standby (after a failover to
    the other cloud). Route 53 answers the SECONDARY only while the PRIMARY fails its health check; setting this is
    the runbook's deliberate step that keeps clients on the standby once it has taken writes.
  EOT
  type        = string
  default     = "aws"

  validation {
    condition     = contains(["aws", "standby"], var.writer)
    error_message = "writer must be aws or standby."
  }
}

variable "health_checks" {
  description = <<-EOT
    Where Route 53's checkers run (at least three of its checker regions), and the alarm on each side's health
    (created in the provider's region, which must be us-east-1: Route 53 publishes health check metrics there).
    alarm_topic_arns: SNS topics in us-east-1 the alarms notify; [] creates no alarm.
  EOT
  type = object({
    regions          = optional(list(string), ["us-east-1", "eu-west-1", "ap-southeast-1"])
    alarm_topic_arns = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = length(var.health_checks.regions) >= 3
    error_message = "health_checks.regions must list at least three checker regions (Route 53's minimum)."
  }
  validation {
    condition = alltrue([for region in var.health_checks.regions : contains(
      ["us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"], region
    )])
    error_message = "health_checks.regions must be Route 53 health checker regions: us-east-1, us-west-1, us-west-2, eu-west-1, ap-southeast-1, ap-southeast-2, ap-northeast-1, sa-east-1."
  }
  validation {
    condition     = alltrue([for arn in var.health_checks.alarm_topic_arns : can(regex("^arn:aws[a-z-]*:sns:us-east-1:[0-9]{12}:", arn))])
    error_message = "health_checks.alarm_topic_arns must be SNS topics in us-east-1, where the health check metrics are."
  }
}

variable "runbook_url" {
  description = "Where the on-call engineer opens docs/operations/runbook.md; the alarms link to its failover section."
  type        = string

  validation {
    condition     = can(regex("^https://", var.runbook_url))
    error_message = "runbook_url must be an https URL."
  }
}
