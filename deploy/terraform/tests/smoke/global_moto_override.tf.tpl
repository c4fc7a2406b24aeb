# Copied next to environments/production/global/main.tf in the scratch copy by scripts/check/terraform/smoke.sh,
# besides moto_override.tf (which points the default provider at moto). Never placed in the real root.

# Global Accelerator's API and metrics live in us-west-2: here, moto's us-west-2.
provider "aws" {
  alias                       = "global_accelerator"
  region                      = "us-west-2"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false

  endpoints {
    cloudwatch = "@MOTO_URL@"
    kms        = "@MOTO_URL@"
    sns        = "@MOTO_URL@"
    sts        = "@MOTO_URL@"
  }
}

# The cross-cloud entry point's provider (Route 53 publishes health check metrics in us-east-1): moto's us-east-1.
# The smoke run leaves cross_cloud null, so nothing is created with it.
provider "aws" {
  alias                       = "us_east_1"
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false

  endpoints {
    cloudwatch = "@MOTO_URL@"
    route53    = "@MOTO_URL@"
    sns        = "@MOTO_URL@"
    sts        = "@MOTO_URL@"
  }
}

# moto 5.2.5 has no Global Accelerator: the entry point (accelerator, listener, endpoint groups, their alarms) is
# not applied; its plan-time tests (modules/entry-point, environments/production/global) are what prove it.
module "entry_point" {
  count = 0
}

# The regional root's states are local here, one workspace per region as in S3.
data "terraform_remote_state" "region" {
  backend = "local"
  config = {
    workspace_dir = "../region/terraform.tfstate.d"
  }
}
