data "aws_region" "current" {}

# The table's own key, unless its region's stack made one (a multi-region environment: modules/table-key in every
# region, replicas included, so each key lives and dies with its region's root).
module "key" {
  source = "../table-key"
  count  = var.kms_key_arn == null ? 1 : 0

  table_name           = var.table_name
  key_user_role_arns   = var.key_user_role_arns
  deletion_window_days = var.kms_deletion_window_days
  prevent_destroy      = var.deletion_protection
}

moved {
  from = aws_kms_key.table
  to   = module.key[0].aws_kms_key.this
}

moved {
  from = aws_kms_alias.table
  to   = module.key[0].aws_kms_alias.this
}

locals {
  kms_key_arn = var.kms_key_arn == null ? module.key[0].arn : var.kms_key_arn
}

resource "aws_dynamodb_table" "this" {
  name                        = var.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = var.partition_key
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = var.partition_key
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  # Global tables (version 2019.11.21) replicate through the table's stream, which must carry both images.
  stream_enabled   = length(var.replicas) > 0
  stream_view_type = length(var.replicas) > 0 ? "NEW_AND_OLD_IMAGES" : null

  # Each replica is encrypted with its own region's key and keeps its own point-in-time recovery, so the data and
  # its 35 days of history survive the loss of any one region (docs/dynamodb.md, "Backups across regions").
  dynamic "replica" {
    for_each = var.replicas
    content {
      region_name            = replica.key
      kms_key_arn            = replica.value.kms_key_arn
      point_in_time_recovery = true
      propagate_tags         = true
    }
  }

  lifecycle {
    precondition {
      condition     = !contains(keys(var.replicas), data.aws_region.current.name)
      error_message = "replicas lists the table's own region (${data.aws_region.current.name}): list only the other regions."
    }
  }
}

# With deletion protection, Terraform refuses to destroy or replace the table as well as AWS refusing DeleteTable
# (the same guard as modules/table-key's, for the same reason: prevent_destroy takes no variable, and staging's table
# is destroyed on purpose). It cannot see a replica removed or re-created inside an update of the table: the plan
# guard (.github/scripts/plan-guard.sh) does.
resource "terraform_data" "destroy_guard" {
  count = var.deletion_protection ? 1 : 0

  input = aws_dynamodb_table.this.arn
  lifecycle {
    prevent_destroy      = true
    replace_triggered_by = [aws_dynamodb_table.this.id]
  }
}
