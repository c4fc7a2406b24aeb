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
  vpc_cidr                    = var.vpc_cidr
  nat_gateway_per_az          = true
  certificate_arn             = var.certificate_arn
  image_digest                = var.image_digest
  min_capacity                = 3
  max_capacity                = 12
  log_retention_days          = 90
  deletion_protection         = true
  force_destroy               = false
  github_repository           = var.ci.github_repository
  terraform_state_bucket      = var.ci.terraform_state.bucket
  terraform_state_kms_key_arn = var.ci.terraform_state.kms_key_arn
  image_source_repository_arn = var.staging_repository_arn
  alarm_emails                = var.alarm_emails
  collector_image             = var.collector_image
}
