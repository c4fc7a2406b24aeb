locals {
  name     = "hello-birthday-production"
  contract = jsondecode(file("${path.module}/../../../../service-contract.json"))
  primary  = var.regions[0]
  others   = slice(var.regions, 1, length(var.regions))

  runbook_url = "https://github.com/${var.github_repository}/blob/main/docs/operations/runbook.md"
  tags        = { Project = "hello-birthday", Environment = "production", ManagedBy = "terraform" }
  # What each region's root gives this one, from its state or given directly. lookup: the table step of a first
  # deployment runs before the regions have load balancers (entry-point rejects a missing ALB loudly).
  regions = var.regional_outputs != null ? var.regional_outputs : {
    for region, state in data.terraform_remote_state.region : region => {
      alb_arn           = lookup(state.outputs, "alb_arn", null)
      table_kms_key_arn = state.outputs.table_kms_key_arn
    }
  }
}

provider "aws" {
  region              = local.primary
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = local.tags
  }
}

# Global Accelerator's API and its CloudWatch metrics live in us-west-2, whatever regions it serves.
provider "aws" {
  alias               = "global_accelerator"
  region              = "us-west-2"
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = local.tags
  }
}

# Route 53 publishes its health check metrics in us-east-1 only: the cross-cloud entry point (its health checks and
# records are global) and the alarms on those metrics are managed from there.
provider "aws" {
  alias               = "us_east_1"
  region              = "us-east-1"
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = local.tags
  }
}

# Each region's state is the regional root's workspace named after the region (KEY_PREFIX/REGION/terraform.tfstate).
data "terraform_remote_state" "region" {
  for_each = var.regional_state == null ? toset([]) : toset(var.regions)

  backend   = "s3"
  workspace = each.key
  config = {
    bucket               = var.regional_state.bucket
    region               = var.regional_state.region
    key                  = "terraform.tfstate"
    workspace_key_prefix = var.regional_state.key_prefix
  }
}

# The users table in the primary region, a replica in every other, each encrypted with its own region's key.
module "data" {
  source = "../../../modules/data"

  table_name          = local.name
  partition_key       = local.contract.dynamodb_partition_key
  deletion_protection = true
  kms_key_arn         = local.regions[local.primary].table_kms_key_arn
  replicas            = { for region in local.others : region => { kms_key_arn = local.regions[region].table_kms_key_arn } }
}

# Every region pulls its image from its own registry: the primary's repository (where production promotes images
# from staging) replicates each push to the same repository name in the other regions.
module "image_replication" {
  source = "../../../modules/image-replication"
  count  = length(local.others) > 0 ? 1 : 0

  repository_name     = local.name
  destination_regions = local.others
}

# The global layer's own topic, so that the entry point pages without depending on any region's stack, in us-west-2,
# where Global Accelerator publishes its metrics. Replication lag is alarmed by each region's root, in the sending
# region, where CloudWatch publishes ReplicationLatency (../region/replication.tf).
module "entry_point_alerts" {
  source    = "../../../modules/alert-topic"
  providers = { aws = aws.global_accelerator }

  name   = "${local.name}-entry-point-alerts"
  emails = var.alarms.emails
}

module "entry_point" {
  source    = "../../../modules/entry-point"
  providers = { aws = aws.global_accelerator }

  name             = local.name
  runbook_url      = local.runbook_url
  alarm_topic_arns = [module.entry_point_alerts.arn]
  flow_logs        = var.entry_point.flow_logs
  regions = {
    for region in var.regions : region => {
      alb_arn                 = local.regions[region].alb_arn
      traffic_dial_percentage = lookup(var.entry_point.traffic_dials, region, 100)
    }
  }
}

# The entry point in front of both clouds (docs/multi-cloud.md): failover records between this accelerator and the
# standby Kubernetes cluster, each side health-checked on its own health host. Its alarms page through a topic of
# their own in us-east-1, beside the metrics, with the global layer's addresses.
module "cross_cloud_alerts" {
  source    = "../../../modules/alert-topic"
  count     = var.cross_cloud == null ? 0 : 1
  providers = { aws = aws.us_east_1 }

  name   = "${local.name}-cross-cloud-alerts"
  emails = var.alarms.emails
}

module "cross_cloud" {
  source    = "../../../modules/cross-cloud-entry"
  count     = var.cross_cloud == null ? 0 : 1
  providers = { aws = aws.us_east_1 }

  name        = local.name
  runbook_url = local.runbook_url
  record      = var.cross_cloud.record
  writer      = var.cross_cloud.writer
  standby     = var.cross_cloud.standby
  aws = {
    accelerator_dns_name = one(module.entry_point[*].dns_name)
    health_check_fqdn    = var.cross_cloud.aws_health_check_fqdn
  }
  health_checks = {
    regions          = var.cross_cloud.checker_regions
    alarm_topic_arns = [module.cross_cloud_alerts[0].arn]
  }
}
