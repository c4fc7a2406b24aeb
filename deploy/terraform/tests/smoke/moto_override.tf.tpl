# Copied next to environments/staging/main.tf in a scratch copy by scripts/check/terraform/smoke.sh: points the real
# staging root at moto on 127.0.0.1 and keeps its state local. Never placed in the real roots.
terraform {
  backend "local" {}
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false
  s3_use_path_style           = true

  endpoints {
    acm                    = "@MOTO_URL@"
    amp                    = "@MOTO_URL@"
    applicationautoscaling = "@MOTO_URL@"
    cloudwatch             = "@MOTO_URL@"
    dynamodb               = "@MOTO_URL@"
    ec2                    = "@MOTO_URL@"
    ecr                    = "@MOTO_URL@"
    ecs                    = "@MOTO_URL@"
    elbv2                  = "@MOTO_URL@"
    iam                    = "@MOTO_URL@"
    kms                    = "@MOTO_URL@"
    logs                   = "@MOTO_URL@"
    s3                     = "@MOTO_URL@"
    sns                    = "@MOTO_URL@"
    sts                    = "@MOTO_URL@"
    wafv2                  = "@MOTO_URL@"
  }
}
