variable "regions" {
  description = "Regions that run production, the primary first (deploy/regions.json): the table is created in the primary with a replica in every other region, the entry point has an endpoint group per region, and images pushed to the primary's repository are replicated to the others."
  type        = list(string)

  validation {
    condition     = length(var.regions) >= 1 && length(var.regions) <= 10
    error_message = "regions must list between 1 and 10 regions (an accelerator listener takes 10 endpoint groups)."
  }
  validation {
    condition     = length(distinct(var.regions)) == length(var.regions)
    error_message = "regions must not list a region twice."
  }
  validation {
    condition     = alltrue([for region in var.regions : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", region))])
    error_message = "regions must be AWS region names such as eu-west-1."
  }
}

variable "regional_state" {
  description = "Where the regional roots keep their states (bootstrap outputs bucket_name, and the bucket's region): each region's outputs are read from KEY_PREFIX/REGION/terraform.tfstate. Exactly one of regional_state and regional_outputs."
  type = object({
    bucket     = string
    region     = string
    key_prefix = optional(string, "hello-birthday/production")
  })
  default = null
}

variable "regional_outputs" {
  description = "Each region's outputs alb_arn and table_kms_key_arn given directly, keyed by region, instead of read from regional_state (the terraform test suites; a region whose state lives elsewhere)."
  type = map(object({
    alb_arn           = string
    table_kms_key_arn = string
  }))
  default = null

  validation {
    condition     = (var.regional_outputs == null) != (var.regional_state == null)
    error_message = "Give exactly one of regional_state and regional_outputs."
  }
  validation {
    condition     = var.regional_outputs == null || try(toset(keys(var.regional_outputs)) == toset(var.regions), false)
    error_message = "regional_outputs must have exactly one entry per region in regions."
  }
}

variable "entry_point" {
  description = "Traffic dial per region (percent, default 100; 0 drains the region: the runbook's lever) and optional S3 flow logs of the accelerator."
  type = object({
    traffic_dials = optional(map(number), {})
    flow_logs     = optional(object({ bucket = string, prefix = optional(string, "global-accelerator/") }))
  })
  default = {}

  validation {
    condition     = alltrue([for region in keys(var.entry_point.traffic_dials) : contains(var.regions, region)])
    error_message = "entry_point.traffic_dials may only name regions listed in regions."
  }
  validation {
    condition     = anytrue([for region in var.regions : lookup(var.entry_point.traffic_dials, region, 100) > 0])
    error_message = "entry_point.traffic_dials drains every region: that is an outage, not a drain."
  }
}

variable "alarms" {
  description = "Who the global layer's alarms page (the entry point's, in us-west-2; each region's own alarms, replication lag included, page through its stack's topic); at least one address."
  type = object({
    emails = optional(list(string), [])
  })
  default = {}
}

variable "github_repository" {
  description = "GitHub repository (OWNER/NAME) whose docs/operations/runbook.md the alarms link to."
  type        = string
}

variable "allowed_account_ids" {
  description = "Accounts this root may touch; a guard against applying with the wrong credentials. Empty: no check."
  type        = list(string)
  default     = []
}

variable "cross_cloud" {
  description = <<-EOT
    The entry point in front of both clouds (docs/multi-cloud.md), or null (the default) for none: two Route 53
    failover records for record.name in the hosted zone record.zone_id, the accelerator and the standby Kubernetes
    cluster's ingress (standby.ipv4_addresses), each health-checked on the readiness path on its own health host
    (aws_health_check_fqdn: the one each region's ALB serves it on to Route 53's checkers, the regional root's
    readiness_host; standby.health_check_fqdn). writer: aws, or standby after a failover (the runbook's switch).
    record.ttl (60 s) and checker_regions (three of Route 53's) default as modules/cross-cloud-entry says. Its
    alarms page var.alarms.emails through a topic in us-east-1.
  EOT
  type = object({
    record                = object({ zone_id = string, name = string, ttl = optional(number) })
    aws_health_check_fqdn = string
    standby               = object({ ipv4_addresses = list(string), health_check_fqdn = string })
    writer                = optional(string, "aws")
    checker_regions       = optional(list(string))
  })
  default = null

  validation {
    condition     = var.cross_cloud == null ? true : contains(["aws", "standby"], var.cross_cloud.writer)
    error_message = "cross_cloud.writer must be aws or standby."
  }
  validation {
    condition = var.cross_cloud == null ? true : length(distinct([
      var.cross_cloud.record.name, var.cross_cloud.aws_health_check_fqdn, var.cross_cloud.standby.health_check_fqdn
    ])) == 3
    error_message = "cross_cloud: the service's name and the two health hosts must be three different names (the service's name serves /hello/* only; each health host serves the readiness path to Route 53's checkers only)."
  }
}
