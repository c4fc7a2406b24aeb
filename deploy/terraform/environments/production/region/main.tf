provider "aws" {
  region              = var.region
  allowed_account_ids = length(var.ci.allowed_account_ids) > 0 ? var.ci.allowed_account_ids : null

  default_tags {
    tags = {
      Project     = "hello-birthday"
      Environment = "production"
      Region      = var.region
      ManagedBy   = "terraform"
    }
  }
}

# One region of production, applied once per region listed in deploy/regions.json with its own state. The table,
# its replicas, the entry point and image replication are the global root's (../global), applied after the regions.
module "stack" {
  source = "../../../modules/stack"

  environment                 = "production"
  multi_region                = true
  image_digest                = var.image_digest
  image_source_repository_arn = var.staging_repository_arn
  ci                          = var.ci

  network       = { vpc_cidr = var.vpc_cidr, nat_gateway_per_az = true }
  load_balancer = { certificate_arn = var.certificate_arn, readiness_host = var.readiness_host }
  service = {
    min_capacity    = 3
    max_capacity    = 12
    collector_image = var.collector_image
  }
  observability = { alarm_emails = var.alarm_emails, log_retention_days = 90 }
  protection    = { deletion_protection = true, force_destroy = false }
}
