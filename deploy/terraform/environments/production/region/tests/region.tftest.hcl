# The regional root, planned for each region of deploy/regions.json with a mocked provider per region: every region
# listed gets its own stack (network, edge, service, observability, CI roles) and its replica's key.
mock_provider "aws" {
  source          = "../../../tests/mocks"
  override_during = plan
}

mock_provider "aws" {
  alias           = "eu_central_1"
  source          = "../../../tests/mocks"
  override_during = plan

  mock_data "aws_region" {
    defaults = { name = "eu-central-1" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["eu-central-1a", "eu-central-1b", "eu-central-1c"] }
  }
}

variables {
  region          = "eu-west-1"
  certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
  image_digest    = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
  collector_image = "public.ecr.aws/aws-observability/aws-otel-collector@sha256:1f0ee4e3d4e9c1e7b5f1c8b1a0f0e0d0c0b0a090807060504030201000f0e0d0"
  ci = {
    github_repository = "example/hello-birthday"
    terraform_state   = { bucket = "hello-birthday-tfstate-123456789012", kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555" }
  }
  staging_repository_arn = "arn:aws:ecr:eu-west-1:123456789012:repository/hello-birthday-staging"
  alarm_emails           = ["oncall@example.com"]
}

run "eu_west_1" {
  command = plan
  variables {
    region   = jsondecode(file("../../../../regions.json")).production[0].region
    vpc_cidr = jsondecode(file("../../../../regions.json")).production[0].vpc_cidr
  }

  assert {
    condition     = [for r in jsondecode(file("../../../../regions.json")).production : r.region] == ["eu-west-1", "eu-central-1"] && module.stack.aws_region == "eu-west-1"
    error_message = "deploy/regions.json changed: plan the regional root here for each region it lists (one run and mock provider per region)."
  }

  assert {
    condition     = output.workflow.aws_region == "eu-west-1" && output.workflow.cluster_name == "hello-birthday-production-eu-west-1" && output.workflow.github_environment == "production-eu-west-1"
    error_message = "The region's stack is named after its region and deployed from its own GitHub environment."
  }
  assert {
    condition     = startswith(output.table_kms_key_arn, "arn:aws:kms:") && output.alb_arn != null && output.workflow.alarm_name_prefix == "hello-birthday-production-eu-west-1"
    error_message = "The region gives the global root its ALB and its replica's key, and the bake its alarm prefix."
  }
  assert {
    condition     = module.stack.table_arn == "arn:aws:dynamodb:eu-west-1:123456789012:table/hello-birthday-production"
    error_message = "The region's tasks use the replica in eu-west-1."
  }
  assert {
    condition     = length(module.stack.readiness_source_cidrs) == 0
    error_message = "Without readiness_host, the ALB routes the readiness path nowhere."
  }
  assert {
    condition = (
      toset(keys(aws_cloudwatch_metric_alarm.replication_latency)) == toset(["eu-central-1"])
      && aws_cloudwatch_metric_alarm.replication_latency["eu-central-1"].dimensions.ReceivingRegion == "eu-central-1"
      && aws_cloudwatch_metric_alarm.replication_latency["eu-central-1"].dimensions.TableName == "hello-birthday-production"
      && aws_cloudwatch_metric_alarm.replication_latency["eu-central-1"].threshold == 30000
      && aws_cloudwatch_metric_alarm.replication_latency["eu-central-1"].alarm_actions == toset([module.stack.alert_topic_arn])
      && !startswith(aws_cloudwatch_metric_alarm.replication_latency["eu-central-1"].alarm_name, output.workflow.alarm_name_prefix)
    )
    error_message = "eu-west-1 alarms the lag of its writes to every other region (30 s), through its own topic, outside the bake's alarm prefix."
  }
}

run "eu_central_1" {
  command   = plan
  providers = { aws = aws.eu_central_1 }
  variables {
    region          = jsondecode(file("../../../../regions.json")).production[1].region
    vpc_cidr        = jsondecode(file("../../../../regions.json")).production[1].vpc_cidr
    certificate_arn = "arn:aws:acm:eu-central-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = output.workflow.aws_region == "eu-central-1" && output.workflow.cluster_name == "hello-birthday-production-eu-central-1" && output.workflow.github_environment == "production-eu-central-1"
    error_message = "The second region gets a stack of its own, named after it."
  }
  assert {
    condition     = module.stack.table_arn == "arn:aws:dynamodb:eu-central-1:123456789012:table/hello-birthday-production" && output.workflow.alarm_name_prefix == "hello-birthday-production-eu-central-1"
    error_message = "The second region's tasks use the replica in eu-central-1."
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.replication_latency)) == toset(["eu-west-1"]) && aws_cloudwatch_metric_alarm.replication_latency["eu-west-1"].dimensions.ReceivingRegion == "eu-west-1"
    error_message = "The second region alarms the other direction, its writes reaching the primary: together every ordered pair of regions."
  }
}

run "readiness_host_for_the_cross_cloud_checks" {
  command = plan
  variables {
    vpc_cidr       = jsondecode(file("../../../../regions.json")).production[0].vpc_cidr
    readiness_host = { host = "health-aws.example.com", source_cidrs = ["54.228.16.0/26", "176.34.159.192/26", "107.23.255.0/26"] }
  }

  assert {
    condition     = toset(module.stack.readiness_source_cidrs) == toset(["54.228.16.0/26", "176.34.159.192/26", "107.23.255.0/26"])
    error_message = "The region's ALB forwards the readiness path on the health host to the checker ranges given, and only those."
  }
}

run "rejects_a_bad_region_name" {
  command = plan
  variables {
    region = "frankfurt"
  }
  expect_failures = [var.region]
}
