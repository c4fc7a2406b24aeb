mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name        = "hello-birthday-production"
  runbook_url = "https://github.com/example/hello-birthday/blob/main/docs/operations/runbook.md"
  record      = { zone_id = "Z0123456789ABCDEFGHIJ", name = "hello.example.com" }
  aws = {
    accelerator_dns_name = "a0123abcd.awsglobalaccelerator.com"
    health_check_fqdn    = "health-aws.example.com"
  }
  standby = {
    ipv4_addresses    = ["203.0.113.10"]
    health_check_fqdn = "health-gke.example.com"
  }
  health_checks = { alarm_topic_arns = ["arn:aws:sns:us-east-1:123456789012:hello-birthday-production-alerts"] }
}

run "aws_writes_standby_waits" {
  command = plan

  assert {
    condition     = aws_route53_record.aws.failover_routing_policy[0].type == "PRIMARY" && aws_route53_record.standby.failover_routing_policy[0].type == "SECONDARY"
    error_message = "AWS answers while healthy; the standby only while AWS fails its checks."
  }
  assert {
    condition     = aws_route53_record.aws.name == "hello.example.com" && aws_route53_record.standby.name == "hello.example.com" && aws_route53_record.aws.set_identifier != aws_route53_record.standby.set_identifier
    error_message = "Both records answer the one service name."
  }
  assert {
    condition     = aws_route53_record.aws.alias[0].name == "a0123abcd.awsglobalaccelerator.com" && aws_route53_record.aws.alias[0].zone_id == "Z2BJ6XQ5FK7U4H"
    error_message = "The AWS side is an alias of the accelerator (its anycast addresses keep the in-AWS failover)."
  }
  assert {
    condition     = aws_route53_record.standby.records == toset(["203.0.113.10"]) && aws_route53_record.standby.ttl == 60
    error_message = "The standby's addresses, with a short TTL."
  }
  assert {
    condition     = output.records.aws.failover == "PRIMARY" && output.records.aws.answers == tolist(["a0123abcd.awsglobalaccelerator.com"]) && output.records.standby.failover == "SECONDARY" && output.records.standby.answers == tolist(["203.0.113.10"])
    error_message = "The records output says what each side answers and in which role."
  }
}

run "health_checks_on_readiness" {
  command = plan

  assert {
    condition     = alltrue([for check in aws_route53_health_check.side : check.resource_path == jsondecode(file("../../../service-contract.json")).readiness_path && check.type == "HTTPS_STR_MATCH" && check.search_string == "ready" && check.port == 443])
    error_message = "Both sides are checked on the contract's readiness path, over HTTPS, for the body of a ready answer."
  }
  assert {
    condition     = alltrue([for check in aws_route53_health_check.side : check.request_interval == jsondecode(file("../../../entry-point.json")).health_check_interval_seconds && check.failure_threshold == jsondecode(file("../../../entry-point.json")).threshold_count])
    error_message = "The checks' cadence is deploy/entry-point.json's, as Global Accelerator's inside AWS."
  }
  assert {
    condition     = aws_route53_health_check.side["aws"].fqdn == "health-aws.example.com" && aws_route53_health_check.side["standby"].fqdn == "health-gke.example.com"
    error_message = "Each side is checked on its own health host."
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.side_unhealthy)) == toset(["aws", "standby"]) && alltrue([for a in aws_cloudwatch_metric_alarm.side_unhealthy : a.treat_missing_data == "breaching" && strcontains(a.alarm_description, "#failing-over-to-the-other-cloud-and-back")])
    error_message = "Each side's health pages, with the runbook's section."
  }
}

run "standby_writes_after_failover" {
  command = plan
  variables {
    writer = "standby"
  }

  assert {
    condition     = aws_route53_record.standby.failover_routing_policy[0].type == "PRIMARY" && aws_route53_record.aws.failover_routing_policy[0].type == "SECONDARY"
    error_message = "Once the standby writes, it stays primary even when AWS recovers: fail-back is a deliberate switch."
  }
}

run "no_alarms_without_topics" {
  command = plan
  variables {
    health_checks = {}
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.side_unhealthy) == 0 && length(aws_route53_health_check.side["aws"].regions) >= 3
    error_message = "Alarms only where someone is notified; checkers in at least three regions."
  }
}

run "rejects_an_unknown_writer" {
  command = plan
  variables {
    writer = "both"
  }
  expect_failures = [var.writer]
}

run "rejects_a_long_ttl" {
  command = plan
  variables {
    record = { zone_id = "Z0123456789ABCDEFGHIJ", name = "hello.example.com", ttl = 3600 }
  }
  expect_failures = [var.record]
}

run "rejects_too_few_checker_regions" {
  command = plan
  variables {
    health_checks = { regions = ["us-east-1", "eu-west-1"] }
  }
  expect_failures = [var.health_checks]
}

run "rejects_alarm_topics_outside_us_east_1" {
  command = plan
  variables {
    health_checks = { alarm_topic_arns = ["arn:aws:sns:eu-west-1:123456789012:alerts"] }
  }
  expect_failures = [var.health_checks]
}

run "rejects_a_standby_without_addresses" {
  command = plan
  variables {
    standby = { ipv4_addresses = [], health_check_fqdn = "health-gke.example.com" }
  }
  expect_failures = [var.standby]
}
