provider "aws" {
  region              = var.region
  allowed_account_ids = length(var.ci.allowed_account_ids) > 0 ? var.ci.allowed_account_ids : null

  default_tags {
    tags = {
      Project     = "hello-birthday"
      Environment = "staging"
      ManagedBy   = "terraform"
    }
  }
}

# Staging mirrors production's regional stack (3 AZs, same modules) in one region, sized and protected for cost,
# not resilience; deploy/terraform/README.md ("Why staging is one region") says why it has no global layer.
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
  github_repository           = var.ci.github_repository
  terraform_state_bucket      = var.ci.terraform_state.bucket
  terraform_state_kms_key_arn = var.ci.terraform_state.kms_key_arn
  alarm_emails                = var.alarm_emails
  collector_image             = var.collector_image
}
