mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

# The IDs the alarms' metric dimensions are cut from, shaped like the real ARNs.
override_resource {
  target = aws_globalaccelerator_accelerator.this
  values = { id = "arn:aws:globalaccelerator::123456789012:accelerator/0123abcd-0000-0000-0000-000000000000", dns_name = "a0123abcd.awsglobalaccelerator.com" }
}

override_resource {
  target = aws_globalaccelerator_listener.https
  values = { id = "arn:aws:globalaccelerator::123456789012:accelerator/0123abcd-0000-0000-0000-000000000000/listener/0123abcd" }
}

variables {
  name        = "hello-birthday-production"
  runbook_url = "https://github.com/example/hello-birthday/blob/main/docs/operations/runbook.md"
  regions = {
    "eu-west-1"    = { alb_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/hello-birthday/0123456789abcdef" }
    "eu-central-1" = { alb_arn = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:loadbalancer/app/hello-birthday/0123456789abcdef", traffic_dial_percentage = 0 }
  }
}

run "endpoint_group_per_region" {
  command = plan

  assert {
    condition     = toset(keys(aws_globalaccelerator_endpoint_group.region)) == toset(["eu-west-1", "eu-central-1"]) && alltrue([for region, group in aws_globalaccelerator_endpoint_group.region : group.endpoint_group_region == region])
    error_message = "One endpoint group per region listed, in that region."
  }
  assert {
    condition     = alltrue([for region, group in aws_globalaccelerator_endpoint_group.region : one(group.endpoint_configuration).endpoint_id == var.regions[region].alb_arn])
    error_message = "Each region's endpoint group routes to that region's ALB."
  }
  assert {
    condition     = alltrue([for group in aws_globalaccelerator_endpoint_group.region : group.health_check_path == jsondecode(file("../../../service-contract.json")).readiness_path])
    error_message = "Every region is health-checked on the service's readiness path."
  }
  assert {
    condition = alltrue([for group in aws_globalaccelerator_endpoint_group.region :
      group.health_check_interval_seconds == jsondecode(file("../../../entry-point.json")).health_check_interval_seconds &&
    group.threshold_count == jsondecode(file("../../../entry-point.json")).threshold_count])
    error_message = "The health-check cadence is the one deploy/entry-point.json gives the failover drill."
  }
  assert {
    condition     = aws_globalaccelerator_endpoint_group.region["eu-west-1"].traffic_dial_percentage == 100 && aws_globalaccelerator_endpoint_group.region["eu-central-1"].traffic_dial_percentage == 0
    error_message = "The traffic dial defaults to 100 and follows the input."
  }
  assert {
    condition     = alltrue([for group in aws_globalaccelerator_endpoint_group.region : one(group.endpoint_configuration).client_ip_preservation_enabled])
    error_message = "Client IP preservation is on, so the ALB and WAF see clients' addresses."
  }
  assert {
    condition     = aws_globalaccelerator_listener.https.protocol == "TCP" && one(aws_globalaccelerator_listener.https.port_range).from_port == 443 && one(aws_globalaccelerator_listener.https.port_range).to_port == 443
    error_message = "The listener carries TCP 443 only."
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.region_out_of_rotation)) == toset(keys(var.regions))
    error_message = "Every region has an out-of-rotation alarm."
  }
  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.region_out_of_rotation["eu-central-1"].metric_query : q if q.id == "region"]).metric[0].dimensions.EndpointGroup == "eu-central-1"
    error_message = "Each alarm watches its own region's endpoint group."
  }
  assert {
    condition     = length(aws_globalaccelerator_accelerator.this.attributes) == 0
    error_message = "Flow logs stay off without a bucket."
  }
}

run "one_region" {
  command = plan
  variables {
    regions   = { "us-east-1" = { alb_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/hello-birthday/0123456789abcdef" } }
    flow_logs = { bucket = "hello-birthday-logs" }
  }
  assert {
    condition     = keys(aws_globalaccelerator_endpoint_group.region) == ["us-east-1"] && keys(aws_cloudwatch_metric_alarm.region_out_of_rotation) == ["us-east-1"]
    error_message = "A single region gets its endpoint group and its alarm."
  }
  assert {
    condition     = one(aws_globalaccelerator_accelerator.this.attributes).flow_logs_enabled && one(aws_globalaccelerator_accelerator.this.attributes).flow_logs_s3_prefix == "global-accelerator/"
    error_message = "Flow logs go to the bucket given."
  }
}

run "rejects_no_region" {
  command = plan
  variables {
    regions = {}
  }
  expect_failures = [var.regions]
}

run "rejects_a_bad_region_name" {
  command = plan
  variables {
    regions = { "Europe" = { alb_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/hello-birthday/0123456789abcdef" } }
  }
  expect_failures = [var.regions]
}

run "rejects_an_alb_of_another_region" {
  command = plan
  variables {
    regions = { "eu-central-1" = { alb_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/hello-birthday/0123456789abcdef" } }
  }
  expect_failures = [var.regions]
}

run "rejects_every_region_dialled_to_zero" {
  command = plan
  variables {
    regions = { "eu-west-1" = { alb_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/hello-birthday/0123456789abcdef", traffic_dial_percentage = 0 } }
  }
  expect_failures = [var.regions]
}

run "rejects_a_dial_over_100" {
  command = plan
  variables {
    regions = { "eu-west-1" = { alb_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/hello-birthday/0123456789abcdef", traffic_dial_percentage = 101 } }
  }
  expect_failures = [var.regions]
}
