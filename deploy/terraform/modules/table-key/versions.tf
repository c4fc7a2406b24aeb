terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.77, < 6.0" # 5.77: availability_zone_rebalancing (README, Versions)
    }
  }
}
