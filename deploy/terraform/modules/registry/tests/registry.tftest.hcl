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
    condition     = toset([for r in jsondecode(aws_ecr_lifecycle_policy.this.policy).rules : r.selection.tagStatus]) == toset(["untagged", "any"])
    error_message = "The lifecycle policy expires untagged images and caps the image count."
  }
}

run "rejects_uppercase_name" {
  command = plan
  variables {
    name = "Hello-Birthday"
  }
  expect_failures = [var.name]
}
