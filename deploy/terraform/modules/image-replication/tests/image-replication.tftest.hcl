mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  repository_name     = "hello-birthday-production"
  destination_regions = ["eu-central-1", "eu-north-1"]
}

run "replicates_to_every_region" {
  command = plan

  assert {
    condition     = [for d in one(one(aws_ecr_replication_configuration.this.replication_configuration).rule).destination : d.region] == ["eu-central-1", "eu-north-1"]
    error_message = "Every region listed receives the images."
  }
  assert {
    condition     = alltrue([for d in one(one(aws_ecr_replication_configuration.this.replication_configuration).rule).destination : d.registry_id == "123456789012"])
    error_message = "Images replicate within the account."
  }
  assert {
    condition     = [for f in one(one(aws_ecr_replication_configuration.this.replication_configuration).rule).repository_filter : "${f.filter_type}:${f.filter}"] == ["PREFIX_MATCH:hello-birthday-production"]
    error_message = "Only the service's repository is replicated."
  }
  assert {
    condition     = output.repository_urls["eu-north-1"] == "123456789012.dkr.ecr.eu-north-1.amazonaws.com/hello-birthday-production" && length(output.repository_urls) == 3
    error_message = "Each region, the source's included, has its local repository URL."
  }
}

run "one_region" {
  command = plan
  variables {
    destination_regions = ["us-east-1"]
  }
  assert {
    condition     = length(one(one(aws_ecr_replication_configuration.this.replication_configuration).rule).destination) == 1
    error_message = "A single destination works."
  }
}

run "rejects_no_region" {
  command = plan
  variables {
    destination_regions = []
  }
  expect_failures = [var.destination_regions]
}

run "rejects_a_repeated_region" {
  command = plan
  variables {
    destination_regions = ["eu-central-1", "eu-central-1"]
  }
  expect_failures = [var.destination_regions]
}

run "rejects_its_own_region" {
  command = plan
  variables {
    destination_regions = ["eu-west-1"]
  }
  expect_failures = [aws_ecr_replication_configuration.this]
}
