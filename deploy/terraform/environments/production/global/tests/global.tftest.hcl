# The global layer with a mocked provider: one table with a replica in each non-primary region, one entry point
# endpoint group per region health-checked on the service's readiness path, image replication to every other
# region, a global dashboard, for the regions of deploy/regions.json, for one region, and for invalid lists; the
# cross-cloud entry point when cross_cloud is set, and nothing of it when it is not.
mock_provider "aws" {
  source          = "../../../tests/mocks"
  override_during = plan
}

mock_provider "aws" {
  alias           = "global_accelerator"
  source          = "../../../tests/mocks"
  override_during = plan

  mock_data "aws_region" {
    defaults = { name = "us-west-2" }
  }
}

# The IDs the entry point's alarm dimensions are cut from, shaped like the real ARNs.
# Route 53's health check metrics, and so the cross-cloud alarms and their topic, are in us-east-1.
mock_provider "aws" {
  alias           = "us_east_1"
  source          = "../../../tests/mocks"
  override_during = plan

  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:hello-birthday-production-cross-cloud-alerts" }
  }
}

override_resource {
  override_during = plan
  target          = module.entry_point.aws_globalaccelerator_accelerator.this
  values          = { id = "arn:aws:globalaccelerator::123456789012:accelerator/0123abcd-0000-0000-0000-000000000000", dns_name = "a0123abcd.awsglobalaccelerator.com" }
}

override_resource {
  override_during = plan
  target          = module.entry_point.aws_globalaccelerator_listener.https
  values          = { id = "arn:aws:globalaccelerator::123456789012:accelerator/0123abcd-0000-0000-0000-000000000000/listener/0123abcd" }
}

override_resource {
  override_during = plan
  target          = module.entry_point_alerts.aws_sns_topic.this
  values          = { arn = "arn:aws:sns:us-west-2:123456789012:hello-birthday-production-entry-point-alerts" }
}

variables {
  github_repository = "example/hello-birthday"
  alarms            = { emails = ["oncall@example.com"] }
  regions           = [for r in jsondecode(file("../../../../regions.json")).production : r.region]
  # What each regional root's outputs alb_arn and table_kms_key_arn hold.
  regional_outputs = {
    for r in jsondecode(file("../../../../regions.json")).production : r.region => {
      alb_arn           = "arn:aws:elasticloadbalancing:${r.region}:123456789012:loadbalancer/app/hello-birthday-production/0123456789abcdef"
      table_kms_key_arn = "arn:aws:kms:${r.region}:123456789012:key/${r.region}"
    }
  }
}

run "every_listed_region" {
  command = plan

  assert {
    condition     = length(var.regions) >= 2 && module.data.table_name == "hello-birthday-production" && output.replica_regions == sort(slice(var.regions, 1, length(var.regions)))
    error_message = "The table lives in the primary (first) region with a replica in every other region listed."
  }
  assert {
    condition     = toset(keys(output.entry_point.endpoint_group_arns)) == toset(var.regions)
    error_message = "The entry point has an endpoint group in every region listed."
  }
  assert {
    condition = alltrue([for region, check in output.entry_point.health_check : (
      check.path == jsondecode(file("../../../../service-contract.json")).readiness_path
      && check.interval == jsondecode(file("../../../../entry-point.json")).health_check_interval_seconds
      && check.threshold == jsondecode(file("../../../../entry-point.json")).threshold_count
    )])
    error_message = "Every region is health-checked on the service's readiness path (deploy/service-contract.json) at the cadence of deploy/entry-point.json."
  }
  assert {
    condition     = toset(keys(output.image_repository_urls)) == toset(var.regions) && module.image_replication[0].repository_urls[var.regions[0]] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-birthday-production"
    error_message = "Images pushed to the primary's repository are replicated to every other region."
  }
  assert {
    condition     = alltrue([for region in var.regions : anytrue([for w in jsondecode(aws_cloudwatch_dashboard.global.dashboard_body).widgets : w.properties.region == region && strcontains(w.properties.title, "5xx")])])
    error_message = "The global dashboard shows every region's load balancer errors."
  }
  assert {
    condition = alltrue(flatten([for sender in var.regions : [for receiver in var.regions : anytrue([
      for w in jsondecode(aws_cloudwatch_dashboard.global.dashboard_body).widgets : w.properties.region == sender && contains(w.properties.metrics, ["AWS/DynamoDB", "ReplicationLatency", "TableName", "hello-birthday-production", "ReceivingRegion", receiver])
    ]) if receiver != sender]]))
    error_message = "The global dashboard shows the replication lag in both directions of every pair of regions, each read in the sending region."
  }

}

run "traffic_dial_drains_a_region" {
  command = plan
  variables {
    entry_point = { traffic_dials = { "eu-central-1" = 0 } }
  }
  assert {
    condition     = module.entry_point.traffic_dials == { "eu-west-1" = 100, "eu-central-1" = 0 }
    error_message = "The dial drains only the region it names; the drained region keeps its endpoint group, ready to take traffic again."
  }
}

run "one_region" {
  command = plan
  variables {
    regions          = ["eu-west-1"]
    regional_outputs = { "eu-west-1" = var.regional_outputs["eu-west-1"] }
  }
  assert {
    condition     = length(output.replica_regions) == 0 && length(module.image_replication) == 0 && toset(keys(output.entry_point.endpoint_group_arns)) == toset(["eu-west-1"])
    error_message = "One region: a single-region table, no image replication, one endpoint group."
  }
}

run "rejects_no_region" {
  command = plan
  variables {
    regions          = []
    regional_outputs = {}
  }
  expect_failures = [var.regions]
}

run "rejects_a_region_twice" {
  command = plan
  variables {
    regions = ["eu-west-1", "eu-central-1", "eu-west-1"]
  }
  expect_failures = [var.regions]
}

run "rejects_a_bad_region_name" {
  command = plan
  variables {
    regions = ["eu-west-1", "Frankfurt"]
  }
  expect_failures = [var.regions]
}

run "rejects_draining_every_region" {
  command = plan
  variables {
    entry_point = { traffic_dials = { "eu-west-1" = 0, "eu-central-1" = 0 } }
  }
  expect_failures = [var.entry_point]
}

run "rejects_outputs_that_miss_a_region" {
  command = plan
  variables {
    regions = ["eu-west-1", "eu-central-1", "us-east-1"]
  }
  expect_failures = [var.regional_outputs]
}

run "no_cross_cloud_entry_by_default" {
  command = plan

  assert {
    condition     = length(module.cross_cloud) == 0 && length(module.cross_cloud_alerts) == 0 && output.cross_cloud == null
    error_message = "Without cross_cloud, no failover record, health check, alarm or topic of the cross-cloud entry point is planned."
  }
}

run "cross_cloud_entry" {
  command = plan
  variables {
    cross_cloud = {
      record                = { zone_id = "Z0123456789ABCDEFGHIJ", name = "hello.example.com" }
      aws_health_check_fqdn = "health-aws.example.com"
      standby               = { ipv4_addresses = ["203.0.113.10", "203.0.113.11"], health_check_fqdn = "health-gke.example.com" }
    }
  }

  assert {
    condition     = output.cross_cloud.primary == "aws" && output.cross_cloud.records.aws.failover == "PRIMARY" && output.cross_cloud.records.standby.failover == "SECONDARY"
    error_message = "AWS writes and answers while healthy; the standby only while AWS fails its checks."
  }
  assert {
    condition     = output.cross_cloud.records.aws.answers == tolist([output.entry_point.dns_name]) && output.entry_point.dns_name == "a0123abcd.awsglobalaccelerator.com"
    error_message = "The AWS side's record is an alias of this root's accelerator."
  }
  assert {
    condition     = output.cross_cloud.records.standby.answers == tolist(["203.0.113.10", "203.0.113.11"])
    error_message = "The standby's record answers the cluster ingress's addresses."
  }
  assert {
    condition     = toset(keys(output.cross_cloud.health_check_ids)) == toset(["aws", "standby"])
    error_message = "Each side has its own Route 53 health check."
  }
  assert {
    condition     = startswith(module.cross_cloud_alerts[0].arn, "arn:aws:sns:us-east-1:")
    error_message = "The cross-cloud alarms page through a topic in us-east-1, where Route 53 publishes the health check metrics."
  }
}

run "cross_cloud_standby_writes" {
  command = plan
  variables {
    cross_cloud = {
      record                = { zone_id = "Z0123456789ABCDEFGHIJ", name = "hello.example.com" }
      aws_health_check_fqdn = "health-aws.example.com"
      standby               = { ipv4_addresses = ["203.0.113.10"], health_check_fqdn = "health-gke.example.com" }
      writer                = "standby"
    }
  }

  assert {
    condition     = output.cross_cloud.records.standby.failover == "PRIMARY" && output.cross_cloud.records.aws.failover == "SECONDARY"
    error_message = "The runbook's writer switch makes the standby the primary record."
  }
}

run "rejects_a_health_host_that_is_the_service_name" {
  command = plan
  variables {
    cross_cloud = {
      record                = { zone_id = "Z0123456789ABCDEFGHIJ", name = "hello.example.com" }
      aws_health_check_fqdn = "hello.example.com"
      standby               = { ipv4_addresses = ["203.0.113.10"], health_check_fqdn = "health-gke.example.com" }
    }
  }
  expect_failures = [var.cross_cloud]
}
