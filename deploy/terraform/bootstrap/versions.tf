terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.77, < 6.0" # 5.77: availability_zone_rebalancing (README, Versions)
    }
  }

  # Deliberately local state: this root creates the bucket every other root keeps its state in. Its state is
  # tiny and can be re-imported (see README) if lost.
}
