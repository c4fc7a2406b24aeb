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

# The account's one GitHub OIDC provider. It lives here, with the state bucket, and not in an environment: every
# role of every environment trusts it, so destroying a throw-away environment (staging) must not take it away and
# lock production's deploy, plan and apply roles out.
resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  # AWS validates GitHub's certificate against its own trust store; the thumbprint is only required by the API.
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
}
