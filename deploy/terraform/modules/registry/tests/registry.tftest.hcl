mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name = "hello-birthday-staging"
}

run "repository" {
  command = plan

  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
    error_message = "Tags must be immutable."
  }
  assert {
    condition     = aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push
    error_message = "Images are scanned on push."
  }
  assert {
    condition     = [for r in jsondecode(aws_ecr_lifecycle_policy.this.policy).rules : r.selection.tagStatus] == ["tagged", "untagged"]
    error_message = "The lifecycle policy counts tagged builds first, then expires untagged leftovers; no rule selects any, which would count every manifest."
  }
  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[0].selection.tagPrefixList == ["commit-"]
    error_message = "Builds are counted by the image workflow's commit- tag."
  }
}

run "rejects_uppercase_name" {
  command = plan
  variables {
    name = "Hello-Birthday"
  }
  expect_failures = [var.name]
}
