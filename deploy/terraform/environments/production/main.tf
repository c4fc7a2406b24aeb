provider "aws" {
  region              = var.region
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = {
      Project     = "hello-birthday"
      Environment = "production"
      ManagedBy   = "terraform"
    }
  }
}

module "stack" {
  source = "../../modules/stack"

  environment                 = "production"
  vpc_cidr                    = "10.30.0.0/16"
  nat_gateway_per_az          = true
  certificate_arn             = var.certificate_arn
  image_digest                = var.image_digest
  min_capacity                = 3
  max_capacity                = 12
  log_retention_days          = 90
  deletion_protection         = true
  force_destroy               = false
  github_repository           = var.github_repository
  terraform_state_bucket      = var.terraform_state_bucket
  terraform_state_kms_key_arn = var.terraform_state_kms_key_arn
  image_source_repository_arn = var.staging_repository_arn
  alarm_emails                = var.alarm_emails
  enable_autoscaling          = var.enable_autoscaling
  collector_image             = var.collector_image

  enable_prometheus_alertmanager = var.enable_prometheus_alertmanager
}
