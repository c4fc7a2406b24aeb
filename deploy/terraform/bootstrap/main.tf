provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "hello-birthday"
      ManagedBy = "terraform"
      Stack     = "bootstrap"
    }
  }
}

module "state_backend" {
  source = "../modules/state-backend"

  bucket_name       = var.bucket_name
  create_lock_table = var.create_lock_table
}
