mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  table_name         = "hello-birthday-production"
  key_user_role_arns = ["arn:aws:iam::123456789012:role/hello-birthday-production-eu-west-1-task"]
}

run "key" {
  command = plan

  assert {
    condition     = aws_kms_key.this.enable_key_rotation && aws_kms_alias.this.name == "alias/hello-birthday-production"
    error_message = "A rotating key, aliased after the table."
  }
  assert {
    condition     = jsondecode(aws_kms_key.this.policy).Statement[1].Condition.StringEquals["kms:ViaService"] == "dynamodb.eu-west-1.amazonaws.com"
    error_message = "The task role may use the key only through DynamoDB in the key's own region."
  }
  assert {
    condition     = toset(jsondecode(aws_kms_key.this.policy).Statement[1].Principal.AWS) == toset(var.key_user_role_arns)
    error_message = "Only the listed roles use the key."
  }
}

run "rejects_non_role_key_users" {
  command = plan
  variables {
    key_user_role_arns = ["*"]
  }
  expect_failures = [var.key_user_role_arns]
}
