terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.81, < 6.0"
    }
  }

  # Partial configuration: bucket, region, locking and KMS key come from backend.hcl (see backend.hcl.example),
  # so no account-specific name is committed.
  backend "s3" {}
}
