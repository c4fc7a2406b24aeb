terraform {
  required_version = ">= 1.9" # variable validations that refer to other variables

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.81, < 6.0" # 5.81: modules/entry-point; < 6.0: README, "Upgrade path"
    }
  }

  # Partial configuration (backend.hcl.example): key hello-birthday/production/global/terraform.tfstate.
  backend "s3" {}
}
