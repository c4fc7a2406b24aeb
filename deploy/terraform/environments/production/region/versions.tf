terraform {
  required_version = ">= 1.7" # removed blocks (modules/ci-access)

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.77, < 6.0" # 5.77: availability_zone_rebalancing (README, Versions)
    }
  }

  # Partial configuration: bucket, region, locking and KMS key come from backend.hcl (see backend.hcl.example),
  # so no account-specific name is committed.
  backend "s3" {}
}
