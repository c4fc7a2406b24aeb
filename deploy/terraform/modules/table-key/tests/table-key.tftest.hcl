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

run "guarded_against_destroy" {
  command = plan

  assert {
    condition     = length(terraform_data.destroy_guard) == 1 && terraform_data.destroy_guard[0].input == aws_kms_key.this.arn
    error_message = "By default the key is guarded: Terraform refuses to destroy or replace it."
  }
}

run "throw_away_key" {
  command = plan
  variables {
    prevent_destroy = false
  }

  assert {
    condition     = length(terraform_data.destroy_guard) == 0
    error_message = "A throw-away environment's key has no guard, so its environment can be destroyed."
  }
}

run "rejects_non_role_key_users" {
  command = plan
  variables {
    key_user_role_arns = ["*"]
  }
  expect_failures = [var.key_user_role_arns]
}
