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

  environment  = "staging"
  image_digest = var.image_digest
  ci           = var.ci

  network       = { vpc_cidr = "10.20.0.0/16", nat_gateway_per_az = false }
  load_balancer = { certificate_arn = var.certificate_arn }
  service = {
    min_capacity    = 2
    max_capacity    = 4
    collector_image = var.collector_image
  }
  observability = { alarm_emails = var.alarm_emails, log_retention_days = 30 }
  protection    = { deletion_protection = false, force_destroy = true }
}
