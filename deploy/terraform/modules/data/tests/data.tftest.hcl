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
    condition     = aws_dynamodb_table.this.server_side_encryption[0].enabled && aws_dynamodb_table.this.server_side_encryption[0].kms_key_arn == aws_kms_key.table.arn && aws_kms_key.table.enable_key_rotation
    error_message = "The table is encrypted with its own rotating KMS key."
  }
  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled == false
    error_message = "Deletion protection follows the input."
  }
  assert {
    condition     = jsondecode(aws_kms_key.table.policy).Statement[1].Condition.StringEquals["kms:ViaService"] == "dynamodb.eu-west-1.amazonaws.com"
    error_message = "The task role may use the key only through DynamoDB."
  }
}

run "production_protection" {
  command = plan
  variables {
    deletion_protection = true
  }
  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled
    error_message = "Deletion protection must reach the table."
  }
}

run "rejects_non_role_key_users" {
  command = plan
  variables {
    key_user_role_arns = ["*"]
  }
  expect_failures = [var.key_user_role_arns]
}
