mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  table_name          = "hello-birthday-staging"
  partition_key       = "username"
  deletion_protection = false
  key_user_role_arns  = ["arn:aws:iam::123456789012:role/hello-birthday-staging-task"]
}

run "table" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.this.hash_key == "username"
    error_message = "On-demand table keyed by username."
  }
  assert {
    condition     = [for a in aws_dynamodb_table.this.attribute : "${a.name}:${a.type}"] == ["username:S"]
    error_message = "The key attribute is a string."
  }
  assert {
    condition     = aws_dynamodb_table.this.point_in_time_recovery[0].enabled
    error_message = "Point-in-time recovery must be on."
  }
  assert {
    condition     = aws_dynamodb_table.this.server_side_encryption[0].enabled && aws_dynamodb_table.this.server_side_encryption[0].kms_key_arn == module.key[0].arn && length(module.key) == 1
    error_message = "The table is encrypted with its own rotating KMS key."
  }
  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled == false && length(terraform_data.destroy_guard) == 0
    error_message = "Deletion protection follows the input; an unprotected (throw-away) table has no destroy guard."
  }
}

run "production_protection" {
  command = plan
  variables {
    deletion_protection = true
  }
  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled && length(terraform_data.destroy_guard) == 1 && module.key[0].prevent_destroy
    error_message = "Deletion protection must reach the table, and Terraform must refuse to destroy or replace the table or its key."
  }
}

run "key_from_the_regions_stack" {
  command = plan
  variables {
    kms_key_arn        = "arn:aws:kms:eu-west-1:123456789012:key/33333333-3333-3333-3333-333333333333"
    key_user_role_arns = []
  }
  assert {
    condition     = length(module.key) == 0 && aws_dynamodb_table.this.server_side_encryption[0].kms_key_arn == var.kms_key_arn
    error_message = "Given the region's key, the table uses it and makes none of its own."
  }
}

run "single_region_by_default" {
  command = plan
  assert {
    condition     = length(aws_dynamodb_table.this.replica) == 0 && !aws_dynamodb_table.this.stream_enabled
    error_message = "Without replicas the table stays a single-region table, with no stream."
  }
}

run "global_table" {
  command = plan
  variables {
    replicas = {
      "eu-central-1" = { kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/11111111-1111-1111-1111-111111111111" }
      "eu-north-1"   = { kms_key_arn = "arn:aws:kms:eu-north-1:123456789012:key/22222222-2222-2222-2222-222222222222" }
    }
  }
  assert {
    condition     = toset([for r in aws_dynamodb_table.this.replica : r.region_name]) == toset(["eu-central-1", "eu-north-1"])
    error_message = "The table has a replica in every region listed."
  }
  assert {
    condition     = alltrue([for r in aws_dynamodb_table.this.replica : r.kms_key_arn == var.replicas[r.region_name].kms_key_arn])
    error_message = "Each replica is encrypted with its own region's key."
  }
  assert {
    condition     = alltrue([for r in aws_dynamodb_table.this.replica : r.point_in_time_recovery && r.propagate_tags])
    error_message = "Point-in-time recovery is on for every replica, and the tags follow."
  }
  assert {
    condition     = aws_dynamodb_table.this.point_in_time_recovery[0].enabled && aws_dynamodb_table.this.stream_enabled && aws_dynamodb_table.this.stream_view_type == "NEW_AND_OLD_IMAGES"
    error_message = "A global table streams new and old images, and its own region keeps PITR."
  }
}

run "one_replica" {
  command = plan
  variables {
    replicas = { "us-east-1" = { kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111" } }
  }
  assert {
    condition     = [for r in aws_dynamodb_table.this.replica : r.region_name] == ["us-east-1"]
    error_message = "A single replica works."
  }
}

run "rejects_a_replica_in_its_own_region" {
  command = plan
  variables {
    replicas = { "eu-west-1" = { kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-1111-1111-1111-111111111111" } }
  }
  expect_failures = [aws_dynamodb_table.this]
}

run "rejects_a_key_of_another_region" {
  command = plan
  variables {
    replicas = { "eu-central-1" = { kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-1111-1111-1111-111111111111" } }
  }
  expect_failures = [var.replicas]
}

run "rejects_a_bad_region_name" {
  command = plan
  variables {
    replicas = { "frankfurt" = { kms_key_arn = "arn:aws:kms:frankfurt:123456789012:key/11111111-1111-1111-1111-111111111111" } }
  }
  expect_failures = [var.replicas]
}
