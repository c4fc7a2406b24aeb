provider "aws" {
  region              = var.region
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null

  default_tags {
    tags = {
      Project     = "hello-birthday"
      Environment = "staging"
      ManagedBy   = "terraform"
    }
  }
}

# Staging mirrors production's shape (3 AZs, same modules) but is sized and protected for cost, not resilience.
module "stack" {
  source = "../../modules/stack"

  environment                 = "staging"
  vpc_cidr                    = "10.20.0.0/16"
  nat_gateway_per_az          = false
  certificate_arn             = var.certificate_arn
  image_digest                = var.image_digest
  min_capacity                = 2
  max_capacity                = 4
  log_retention_days          = 30
  deletion_protection         = false
  force_destroy               = true
  github_repository           = var.github_repository
  terraform_state_bucket      = var.terraform_state_bucket
  terraform_state_kms_key_arn = var.terraform_state_kms_key_arn
  alarm_emails                = var.alarm_emails
  enable_autoscaling          = var.enable_autoscaling
  collector_image             = var.collector_image

  enable_prometheus_alertmanager = var.enable_prometheus_alertmanager
}
